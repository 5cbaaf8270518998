#!/usr/bin/env python3
"""A scripted SMTP receiver that refuses as real providers do, for producing real DSNs offline
(bench/exim-bounces.sh). The reply to RCPT TO depends on the local part: `unknown.*` 550 5.1.1,
`full.*` 552 5.2.2, `spam.*` accepted then refused at end of DATA with a 5.7.1 spam block,
`gmail.*` Gmail's 550-5.7.1 unsolicited-mail block, `tss04.*` Yahoo's 421 [TSS04] deferral,
`disabled.*` 550 5.2.1 disabled account, `sender.*` a 553 5.1.8 refusal of our sender's domain;
anything else is accepted.
Usage: refusing_smtp.py PORT   (serves until killed)"""
import socketserver
import sys

RCPT = {
    "unknown": ["550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table"],
    "full": ["552 5.2.2 <{rcpt}>: Recipient address rejected: Mailbox full"],
    "gmail": ["550-5.7.1 [127.0.0.1] Our system has detected that this message is", "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,",
              "550-5.7.1 this message has been blocked.", "550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError"],
    "tss04": ["421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1"],
    "sender": ["553 5.1.8 <{sender}>: Sender address rejected: Domain not found"],
    "disabled": ["550-5.2.1 The email account that you tried to reach is disabled. Learn more at", "550 5.2.1  https://support.google.com/mail/?p=DisabledUser"],
}
DATA_SPAM = "554 5.7.1 Message rejected as spam: listed at zen.spamhaus.org"


class Session(socketserver.StreamRequestHandler):
    def say(self, *lines):
        self.wfile.write("".join(l + "\r\n" for l in lines).encode())

    def handle(self):
        self.say("220 mx.refusing.example ESMTP scripted")
        accepted, spam, sender = [], False, ""
        while True:
            line = self.rfile.readline().decode("utf-8", "replace").strip()
            if not line:
                return
            verb = line.split(":")[0].split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.say("250-mx.refusing.example", "250-PIPELINING", "250 8BITMIME")
            elif verb == "MAIL":
                accepted, spam = [], False
                sender = line.split("<", 1)[-1].split(">", 1)[0]
                self.say("250 2.1.0 Ok")
            elif verb == "RCPT":
                rcpt = line.split("<", 1)[-1].split(">", 1)[0]
                kind = rcpt.split("@")[0].split(".")[0].lower()
                if kind in RCPT:
                    self.say(*[l.format(rcpt=rcpt, sender=sender) for l in RCPT[kind]])
                else:
                    spam = spam or kind == "spam"
                    accepted.append(rcpt)
                    self.say("250 2.1.5 Ok")
            elif verb == "DATA":
                if not accepted:
                    self.say("554 5.5.1 Error: no valid recipients")
                    continue
                self.say("354 End data with <CR><LF>.<CR><LF>")
                while self.rfile.readline() not in (b".\r\n", b".\n", b""):
                    pass
                self.say(DATA_SPAM if spam else "250 2.0.0 Ok: queued")
            elif verb == "QUIT":
                self.say("221 2.0.0 Bye")
                return
            elif verb in ("RSET", "NOOP"):
                self.say("250 2.0.0 Ok")
            else:
                self.say("502 5.5.2 Error: command not recognized")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Session).serve_forever()
