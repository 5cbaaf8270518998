#!/usr/bin/env python3
"""Writes the reconstructed messages of the bounce corpus (files 31 and up) and their entries in
expected.json.

Each message is a reconstruction, written for this project, of the layout an MTA or provider
documents or is widely seen to send (its report text, DSN fields, status codes and reply texts);
none is copied from another project's test files or from real mail. Addresses and hosts are
invented (example domains, or provider domains with invented local parts). Every message returns
a copy of our own newsletter (or its headers), whose From/To/List headers name addresses that are
NOT failed recipients, so a reader that takes addresses from the returned copy is caught.

Run: python3 tests/corpus/bounces/reconstruct.py   (rewrites the files it owns; idempotent)
"""
import base64
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
DATE = "Wed, 25 Nov 2026 06:20:00 +0000"
OURS = "news@news.example.org"
MESSAGES = []  # (file name, bytes, expected)


def verp(n):
    return f"bounces+s{n:x}-i3-r{n:04d}q@bounce.news.example.org"


def original(rcpt, n, headers_only=False):
    """Our newsletter as it left us, to whoever `rcpt` is (the To header may differ from the
    failed address, as after forwarding)."""
    head = (
        f"Return-Path: <{verp(n)}>\n"
        "Received: from app1.news.example.org (app1.news.example.org [10.0.4.21])\n"
        "\tby out1.news.example.org (Postfix) with ESMTP id 4ZxYz0Q7LmzB1\n"
        f"\tfor <{rcpt}>; Wed, 25 Nov 2026 06:14:41 +0000\n"
        f"From: Tech News <{OURS}>\n"
        f"To: {rcpt}\n"
        "Reply-To: Tech News Editors <editors@news.example.org>\n"
        "Subject: Tech Newsletter, November 2026\n"
        "Date: Wed, 25 Nov 2026 06:14:41 +0000\n"
        f"Message-ID: <3.{n}.5c0ffee{n:04x}@news.example.org>\n"
        "List-Id: Tech News <news.news.example.org>\n"
        f"List-Unsubscribe: <https://news.example.org/u/x7Qk{n}>,\n <mailto:unsubscribe+{n}@news.example.org>\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
        "Precedence: bulk\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=\"utf-8\"\n"
        "Content-Transfer-Encoding: 7bit\n"
    )
    if headers_only:
        return head
    return head + "\nHello,\n\nThis month: Rust 2024 in production, and SQLite's WAL mode.\nWrite to editors@news.example.org with questions.\n\n--\nTech News, 1 Example Street, Example City\n"


def add(name, raw, kind, source, recipients):
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    MESSAGES.append((name, raw, {"kind": kind, "source": source, "recipients": [{"address": a, "kind": k, "reason": r} for a, k, r in recipients]}))


def envelope(n, sender, subject, extra=""):
    return (
        "Return-Path: <>\n"
        f"Delivered-To: {verp(n)}\n"
        "Received: from mx.remote.example (mx.remote.example [203.0.113.80])\n"
        "\tby mx.bounce.news.example.org (Postfix) with ESMTPS id 4ZxY2B0aQmzA1\n"
        f"\tfor <{verp(n)}>; {DATE}\n"
        f"From: {sender}\n"
        f"To: {verp(n)}\n"
        f"Subject: {subject}\n"
        f"Date: {DATE}\n"
        f"Message-ID: <bounce.{n}.20261125062000@mx.remote.example>\n"
        f"{extra}"
    )


def dsn(n, sender, subject, text, per_recipient, rcpt, reporting="mx.remote.example", extra="", returned="full", text_type="text/plain; charset=us-ascii", text_cte="7bit", dsn_type="message/delivery-status"):
    """A multipart/report: human text, the DSN fields (one dict per recipient), the returned copy."""
    b = f"=_report_{n}_boundary"
    fields = f"Reporting-MTA: dns; {reporting}\nArrival-Date: Wed, 25 Nov 2026 06:14:42 +0000\n"
    for r in per_recipient:
        fields += "\n" + "".join(f"{k}: {v}\n" for k, v in r.items())
    ret_type = "text/rfc822-headers" if returned == "headers" else "message/rfc822"
    body = (
        envelope(n, sender, subject, extra)
        + "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        + f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{b}"\n\n'
        + "This is a MIME-encapsulated message.\n\n"
        + f"--{b}\nContent-Description: Notification\nContent-Type: {text_type}\nContent-Transfer-Encoding: {text_cte}\n\n{text}\n"
        + f"--{b}\nContent-Description: Delivery report\nContent-Type: {dsn_type}\n\n{fields}\n"
        + f"--{b}\nContent-Description: Undelivered Message\nContent-Type: {ret_type}\n\n{original(rcpt, n, returned == 'headers')}\n"
        + f"--{b}--\n"
    )
    return body


def prose(n, sender, subject, text, rcpt, extra="", attach=False, charset="us-ascii", cte="7bit"):
    """A bounce in prose: the report, then the returned copy inline (after the MTA's marker, part
    of `text`) or attached as message/rfc822."""
    if not attach:
        return envelope(n, sender, subject, extra) + f"MIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n{text}"
    b = f"----=_NextPart_{n:03d}_BOUNCE"
    return (
        envelope(n, sender, subject, extra)
        + f'MIME-Version: 1.0\nContent-Type: multipart/mixed;\n\tboundary="{b}"\n\nThis is a multi-part message in MIME format.\n\n'
        + f"--{b}\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n{text}\n"
        + f"--{b}\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n{original(rcpt, n)}\n"
        + f"--{b}--\n"
    )


def b64(text, charset):
    data = base64.encodebytes(text.encode(charset)).decode("ascii")
    return data


def rcpt_block(addr, action, status, diag, mta=None, original_rcpt=None):
    block = {}
    if original_rcpt:
        block["Original-Recipient"] = original_rcpt
    block["Final-Recipient"] = f"rfc822; {addr}"
    block["Action"] = action
    block["Status"] = status
    if mta:
        block["Remote-MTA"] = f"dns; {mta}"
    if diag:
        block["Diagnostic-Code"] = f"smtp; {diag}"
    return block


POSTFIX_TEXT = """This is the mail system at host {host}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

{lines}
"""

POSTFIX_DELAY = """This is the mail system at host {host}.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.

For further assistance, please send mail to postmaster.

                   The mail system

{lines}
"""


def postfix(n, name, addr, status, diag, mx, kind, reason, action="failed", host="out1.news.example.org", said=None, delay=False, text=None, subject=None):
    block = rcpt_block(addr, action, status, diag, mx)
    if diag is None and said:
        block["Diagnostic-Code"] = "X-Postfix; " + said.split(">: ", 1)[1].replace("\n    ", " ")
    said = said or f"<{addr}>: host {mx}[203.0.113.25] said: {diag} (in reply to RCPT TO\n    command)"
    text = text or (POSTFIX_DELAY if delay else POSTFIX_TEXT).format(host=host, lines=said)
    subject = subject or ("Delayed Mail (still being retried)" if delay else "Undelivered Mail Returned to Sender")
    raw = dsn(n, f"Mail Delivery System <MAILER-DAEMON@{host}>", subject, text, [block], addr, reporting=host, returned="headers" if delay else "full")
    add(name, raw, kind, "dsn", [(addr, kind if kind in ("hard", "soft") else None, reason)])


# --- Postfix -------------------------------------------------------------------------------------
postfix(31, "31-postfix-spamhaus-block.eml", "ingrid@mail.example.no", "5.7.1", "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using\n    zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7", "mx.mail.example.no", "soft", "blocked")
postfix(32, "32-postfix-over-quota-as-5xx.eml", "paulo@correio.example.br", "5.2.2", "552 5.2.2 <paulo@correio.example.br>: Recipient address rejected: Mailbox\n    over quota", "mx.correio.example.br", "soft", "mailbox_full")
postfix(33, "33-postfix-null-mx.eml", "owner@parked.example", "5.1.10", None, None, "hard", "domain_unknown",
        said="<owner@parked.example>: Domain parked.example does not accept mail (nullMX)")
postfix(34, "34-postfix-connection-refused.eml", "admin@down.example.net", "4.4.1", None, None, "soft", "expired",
        said="<admin@down.example.net>: connect to mx.down.example.net[203.0.113.9]:25: Connection refused")
postfix(35, "35-postfix-too-many-connections.eml", "q.nguyen@busy.example", "4.7.0", "421 4.7.0 mx.busy.example Error: too many connections from\n    198.51.100.7", "mx.busy.example", "soft", "rate_limited", action="delayed", delay=True)
postfix(36, "36-postfix-mailbox-full-4xx-delayed.eml", "ana.lopez@buzon.example.es", "4.2.2", "452 4.2.2 Mailbox full", "mx.buzon.example.es", "soft", "mailbox_full", action="delayed", delay=True)
postfix(37, "37-postfix-dnsbl-554-reject.eml", "kim@corp.example.kr", "5.7.1", "554 5.7.1 Rejected - listed at bl.spamcop.net", "mx.corp.example.kr", "soft", "blocked")
postfix(38, "38-postfix-loop.eml", "alias@loop.example", "5.4.6", None, None, "soft", "other",
        said="<alias@loop.example>: mail forwarding loop for alias@loop.example")
postfix(39, "39-fastmail-user-unknown.eml", "dana.k@fastmail.com", "5.1.1", "550 5.1.1 <dana.k@fastmail.com>: Recipient address rejected: User\n    unknown in virtual mailbox table", "in1-smtp.messagingengine.com", "hard", "user_unknown")
postfix(40, "40-postfix-speeding-local-limit.eml", "team@throttle.example", "4.7.1", "450 4.7.1 <team@throttle.example>: Recipient address rejected: Sending\n    rate limit exceeded, slow down", "mx.throttle.example", "soft", "rate_limited", action="delayed", delay=True)

# --- Exim ----------------------------------------------------------------------------------------
EXIM_HEAD = """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

"""
EXIM_COPY = "\n------ This is a copy of the message, including all the headers. ------\n\n"


def exim(n, name, blocks, recipients, failed_header, extra_text="", copy=True):
    text = EXIM_HEAD + blocks + extra_text + (EXIM_COPY + original(recipients[0][0] if recipients else "x@example.org", n) if copy else "")
    raw = prose(n, "Mail Delivery System <Mailer-Daemon@mx.remote.example>", "Mail delivery failed: returning message to sender", text, None,
                extra=f"X-Failed-Recipients: {failed_header}\nAuto-Submitted: auto-replied\n")
    add(name, raw, "hard" if any(k == "hard" for _, k, _ in recipients) else "soft", "heuristic", recipients)


exim(41, "41-exim-quota-exceeded.eml", """  marta.s@example.pl
    host mx.example.pl [203.0.113.41]
    SMTP error from remote mail server after RCPT TO:<marta.s@example.pl>:
    552 5.2.2 Mailbox quota exceeded
""", [("marta.s@example.pl", "soft", "mailbox_full")], "marta.s@example.pl")
exim(42, "42-exim-no-mx-hosts.eml", """  info@gone-company.example
    all relevant MX records point to non-existent hosts
""", [("info@gone-company.example", "hard", "domain_unknown")], "info@gone-company.example")
exim(43, "43-exim-two-failed.eml", """  a.kovacs@example.hu
    host mx.example.hu [203.0.113.43]
    SMTP error from remote mail server after RCPT TO:<a.kovacs@example.hu>:
    550 5.1.1 <a.kovacs@example.hu>: Recipient address rejected: User unknown
  b.kovacs@example.hu
    host mx.example.hu [203.0.113.43]
    SMTP error from remote mail server after RCPT TO:<b.kovacs@example.hu>:
    550 5.1.1 <b.kovacs@example.hu>: Recipient address rejected: User unknown
""", [("a.kovacs@example.hu", "hard", "user_unknown"), ("b.kovacs@example.hu", "hard", "user_unknown")], "a.kovacs@example.hu,\n b.kovacs@example.hu")
exim(44, "44-exim-blacklisted.eml", """  r.patel@isp.example.in
    host mx1.isp.example.in [203.0.113.44]
    SMTP error from remote mail server after RCPT TO:<r.patel@isp.example.in>:
    550 rejected because 198.51.100.7 is in a black list at b.barracudacentral.org
""", [("r.patel@isp.example.in", "soft", "blocked")], "r.patel@isp.example.in")
exim(45, "45-exim-retry-timeout.eml", """  ops@flaky.example
    retry timeout exceeded
""", [("ops@flaky.example", "soft", "expired")], "ops@flaky.example")
exim(46, "46-exim-unrouteable-local.eml", """  nobody.here@mx.remote.example
    Unrouteable address
""", [("nobody.here@mx.remote.example", "hard", "user_unknown")], "nobody.here@mx.remote.example")
# Exim's DSN form (bounce_use_dsn / recent defaults): the same prose plus message/delivery-status.
add("47-exim-dsn-user-unknown.eml", dsn(47, "Mail Delivery System <Mailer-Daemon@mx.remote.example>", "Mail delivery failed: returning message to sender",
    EXIM_HEAD + """  h.yilmaz@example.com.tr
    host mx.example.com.tr [203.0.113.47]
    SMTP error from remote mail server after RCPT TO:<h.yilmaz@example.com.tr>:
    550 No such user here
""", [{"Action": "failed", "Final-Recipient": "rfc822;h.yilmaz@example.com.tr", "Status": "5.0.0", "Remote-MTA": "dns; mx.example.com.tr", "Diagnostic-Code": "smtp; 550 No such user here"}],
    "h.yilmaz@example.com.tr", extra="X-Failed-Recipients: h.yilmaz@example.com.tr\n"), "hard", "dsn", [("h.yilmaz@example.com.tr", "hard", "user_unknown")])

# --- Sendmail ------------------------------------------------------------------------------------
SENDMAIL = """The original message was received at Wed, 25 Nov 2026 06:14:42 GMT
from out1.news.example.org [198.51.100.7]

   ----- The following addresses had permanent fatal errors -----
{addrs}
   ----- Transcript of session follows -----
{transcript}
"""
add("48-sendmail-host-unknown.eml", dsn(48, "Mail Delivery Subsystem <MAILER-DAEMON@relay.uni.example>", "Returned mail: see transcript for details",
    SENDMAIL.format(addrs="<prof.weber@physik.nosuchhost.example>\n    (reason: 550 Host unknown)", transcript="550 5.1.2 <prof.weber@physik.nosuchhost.example>... Host unknown (Name server: physik.nosuchhost.example: host not found)"),
    [rcpt_block("prof.weber@physik.nosuchhost.example", "failed", "5.1.2", None) | {"Original-Recipient": "rfc822;prof.weber@physik.nosuchhost.example"}], "prof.weber@physik.nosuchhost.example", reporting="relay.uni.example"),
    "hard", "dsn", [("prof.weber@physik.nosuchhost.example", "hard", "domain_unknown")])
add("49-sendmail-deferred-warning.eml", dsn(49, "Mail Delivery Subsystem <MAILER-DAEMON@relay.uni.example>", "Warning: could not send message for past 4 hours",
    """    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Wed, 25 Nov 2026 02:14:42 GMT
from out1.news.example.org [198.51.100.7]

   ----- Transcript of session follows -----
<lab@chem.example.edu>... Deferred: Connection timed out with mx.chem.example.edu.
Warning: message still undelivered after 4 hours
Will keep trying until message is 5 days old
""", [{"Final-Recipient": "RFC822; lab@chem.example.edu", "Action": "delayed", "Status": "4.4.1", "Remote-MTA": "DNS; mx.chem.example.edu", "Last-Attempt-Date": DATE, "Will-Retry-Until": "Mon, 30 Nov 2026 06:14:42 GMT"}],
    "lab@chem.example.edu", reporting="relay.uni.example", returned="headers"), "soft", "dsn", [("lab@chem.example.edu", "soft", "transient")])
# Old sendmail without a DSN part: only the prose.
add("50-sendmail-prose-user-unknown.eml", prose(50, "Mail Delivery Subsystem <MAILER-DAEMON@mail.oldschool.example>", "Returned mail: User unknown",
    SENDMAIL.format(addrs="<jsmith@oldschool.example>", transcript="... while talking to mail.oldschool.example.:\n>>> RCPT To:<jsmith@oldschool.example>\n<<< 550 5.1.1 <jsmith@oldschool.example>... User unknown\n550 5.1.1 <jsmith@oldschool.example>... User unknown")
    + "\n   ----- Original message follows -----\n\n" + original("jsmith@oldschool.example", 50), None), "hard", "heuristic", [("jsmith@oldschool.example", "hard", "user_unknown")])

# --- qmail / netqmail ----------------------------------------------------------------------------
QMAIL = """Hi. This is the qmail-send program at mx.remote.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

{blocks}
--- Below this line is a copy of the message.

"""


def qmail(n, name, blocks, recipients):
    text = QMAIL.format(blocks=blocks) + original(recipients[0][0], n)
    add(name, prose(n, "MAILER-DAEMON@mx.remote.example", "failure notice", text, None), "hard" if any(k == "hard" for _, k, _ in recipients) else "soft", "heuristic", recipients)


qmail(51, "51-qmail-two-recipients-mixed.eml", """<v.horak@example.sk>:
203.0.113.51 does not like recipient.
Remote host said: 550 5.1.1 <v.horak@example.sk>... User unknown
Giving up on 203.0.113.51.

<m.horakova@example.sk>:
203.0.113.51 failed after I sent the message.
Remote host said: 552 5.2.2 Mailbox full
""", [("v.horak@example.sk", "hard", "user_unknown"), ("m.horakova@example.sk", "soft", "mailbox_full")])
qmail(52, "52-qmail-no-host.eml", """<friend@nosuchhost.example>:
Sorry, I couldn't find any host named nosuchhost.example. (#5.1.2)
""", [("friend@nosuchhost.example", "hard", "domain_unknown")])
qmail(53, "53-netqmail-sender-denied.eml", """<lista@vendor.example.ar>:
203.0.113.53 does not like recipient.
Remote host said: 553 sorry, your envelope sender has been denied (#5.7.1)
Giving up on 203.0.113.53.
""", [("lista@vendor.example.ar", "soft", "blocked")])
qmail(54, "54-qmail-vpopmail-no-mailbox.eml", """<old.user@hosting.example>:
Sorry, no mailbox here by that name. vpopmail (#5.1.1)
""", [("old.user@hosting.example", "hard", "user_unknown")])

# --- Courier -------------------------------------------------------------------------------------
COURIER = """This is a delivery status notification from mx.remote.example,
running the Courier mail server, version 1.1.8.

The original message was received on Wed, 25 Nov 2026 06:14:42 +0000
from out1.news.example.org [::ffff:198.51.100.7]

---------------------------------------------------------------------------

                           UNDELIVERABLE MAIL

Your message to the following recipients cannot be delivered:

{block}
---------------------------------------------------------------------------

If your message was also sent to additional recipients, their delivery
status is not included in this report.
"""
add("55-courier-user-unknown.eml", dsn(55, "Courier mail server at mx.remote.example <@>", "NOTICE: mail delivery status.",
    COURIER.format(block="<ewa@courier.example>:\n    mx.courier.example [203.0.113.55]:\n>>> RCPT TO:<ewa@courier.example>\n<<< 550 User unknown."),
    [{"Final-Recipient": "rfc822; ewa@courier.example", "Action": "failed", "Status": "5.0.0", "Remote-MTA": "dns; mx.courier.example", "Diagnostic-Code": "smtp; 550 User unknown."}], "ewa@courier.example"),
    "hard", "dsn", [("ewa@courier.example", "hard", "user_unknown")])
add("56-courier-quota.eml", dsn(56, "Courier mail server at mx.remote.example <@>", "NOTICE: mail delivery status.",
    COURIER.format(block="<pat@courier.example>:\n    Local delivery failed: maildir over quota."),
    [{"Final-Recipient": "rfc822; pat@courier.example", "Action": "failed", "Status": "5.0.0", "Diagnostic-Code": "x-unix; maildir over quota."}], "pat@courier.example"),
    "soft", "dsn", [("pat@courier.example", "soft", "mailbox_full")])

# --- OpenSMTPD -----------------------------------------------------------------------------------
OPENSMTPD = """Hi!

This is the MAILER-DAEMON, please DO NOT REPLY to this email.

An error has occurred while attempting to deliver a message for
the following list of recipients:

{lines}

Below is a copy of the original message:

"""
add("57-opensmtpd-prose-user-unknown.eml", prose(57, "Mailer Daemon <MAILER-DAEMON@smtpd.example.org>", "Delivery status notification: error",
    OPENSMTPD.format(lines="lea@smtpd.example.org: 550 5.1.1 <lea@smtpd.example.org>: Recipient address rejected: User unknown") + original("lea@smtpd.example.org", 57), None),
    "hard", "heuristic", [("lea@smtpd.example.org", "hard", "user_unknown")])
add("58-opensmtpd-dsn-delay.eml", dsn(58, "Mailer Daemon <MAILER-DAEMON@smtpd.example.org>", "Delivery status notification: delay",
    """Hi!

This is the MAILER-DAEMON, please DO NOT REPLY to this email.

An error has occurred while attempting to deliver a message for
the following list of recipients:

tom@slow.example.org: Network error on destination MXs

Delivery will be retried, you do not need to resend the message.
""", [{"Final-Recipient": "rfc822; tom@slow.example.org", "Action": "delayed", "Status": "4.4.1"}], "tom@slow.example.org", reporting="smtpd.example.org", returned="headers"),
    "soft", "dsn", [("tom@slow.example.org", "soft", "transient")])

# --- Exchange / Office 365 -----------------------------------------------------------------------
add("59-exchange2003-hash-lines.eml", prose(59, "System Administrator <postmaster@corp.example.com>", "Undeliverable: Tech Newsletter, November 2026",
    """Your message did not reach some or all of the intended recipients.

      Subject:\tTech Newsletter, November 2026
      Sent:\t11/25/2026 6:14 AM

The following recipient(s) could not be reached:

      k.mueller@corp.example.com on 11/25/2026 6:20 AM
            The e-mail account does not exist at the organization this message was sent to.  Check the e-mail address, or contact the recipient directly to find out the correct address.
            <EXCH01.corp.example.com #5.1.1 smtp;550 5.1.1 User unknown>
""", "k.mueller@corp.example.com", attach=True), "hard", "heuristic", [("k.mueller@corp.example.com", "hard", "user_unknown")])
add("60-exchange-smtp-prefix.eml", prose(60, "System Administrator <postmaster@legacy.example>", "Undeliverable: Tech Newsletter, November 2026",
    """Your message did not reach some or all of the intended recipients.

      Subject:\tTech Newsletter, November 2026
      Sent:\t11/25/2026 6:14 AM

The following recipient(s) could not be reached:

      'SMTP=j.doe@legacy.example'; on 11/25/2026 6:20 AM
            The recipient name is not recognized
            The MTS-ID of the original message is: c=US;a= ;p=Legacy;l=EXCH55-261125062000Z-1234
            MSEXCH:IMS:Legacy:Main:EXCH55 0 (000C05A6) Unknown Recipient
""", "j.doe@legacy.example", attach=True), "hard", "heuristic", [("j.doe@legacy.example", "hard", "user_unknown")])
add("61-exchange2010-recipnotfound.eml", prose(61, "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@firm.example>", "Undeliverable: Tech Newsletter, November 2026",
    """Delivery has failed to these recipients or groups:

s.berg@firm.example
The e-mail address you entered couldn't be found. Please check the recipient's e-mail address and try to resend the message. If the problem continues, please contact your helpdesk.

Diagnostic information for administrators:

Generating server: EX01.firm.example

s.berg@firm.example
#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##

Original message headers:

Received: from out1.news.example.org (198.51.100.7) by EX01.firm.example
 (10.0.0.5) with Microsoft SMTP Server id 14.3.498.0; Wed, 25 Nov 2026 06:14:42 +0000
From: Tech News <news@news.example.org>
To: <s.berg@firm.example>
Subject: Tech Newsletter, November 2026
""", None, extra="X-MS-Exchange-Message-Is-Ndr:\nAuto-Submitted: auto-replied\n"), "hard", "heuristic", [("s.berg@firm.example", "hard", "user_unknown")])


def o365(n, name, addr, status, diag, kind, reason, human):
    text = f"""Your message to {addr} couldn't be delivered.
{human}

Diagnostic information for administrators:

Generating server: AM0PR04MB{n}.eurprd04.prod.outlook.com

{addr}
Remote Server returned '{diag}'

Original message headers:

From: Tech News <news@news.example.org>
To: {addr}
Subject: Tech Newsletter, November 2026
"""
    raw = dsn(n, "Microsoft Outlook <postmaster@tenant.onmicrosoft.com>", "Undeliverable: Tech Newsletter, November 2026", text,
              [{"Final-Recipient": f"rfc822;{addr}", "Action": "failed", "Status": status, "Diagnostic-Code": f"smtp;{diag}"}], addr,
              reporting=f"AM0PR04MB{n}.eurprd04.prod.outlook.com", extra="X-MS-Exchange-Message-Is-Ndr:\n")
    add(name, raw, kind, "dsn", [(addr, kind, reason)])


o365(62, "62-o365-quota-exceeded.eml", "f.ahmed@tenant.example", "5.2.2", "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception", "soft", "mailbox_full", "The recipient's mailbox is full and can't accept messages now.")
o365(63, "63-o365-dbeb-access-denied.eml", "nobody@tenant.example", "5.4.1", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [AM0PR04MB63.eurprd04.prod.outlook.com]", "hard", "user_unknown", "The email address wasn't found at the destination domain.")
o365(64, "64-o365-group-sender-not-authenticated.eml", "all-staff@tenant.example", "5.7.133", "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required; Delivery restriction check failed as sender not authenticated", "soft", "blocked", "The group only accepts messages from people in its organization.")
o365(65, "65-o365-hop-count-loop.eml", "loop@tenant.example", "5.4.14", "554 5.4.14 Hop count exceeded - possible mail loop ATTR34 [AM0PR04MB65.eurprd04.prod.outlook.com]", "soft", "other", "The message was rejected because of a mail loop.")
o365(66, "66-o365-ip-blocked.eml", "c.jones@tenant.example", "5.7.708", "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(830) [AM0PR04MB66.eurprd04.prod.outlook.com]", "soft", "blocked", "Your message wasn't delivered because the recipient's email provider rejected it.")

# --- Gmail ---------------------------------------------------------------------------------------
GMAIL_DSN = """** {title} **

{human}

The response from the remote server was:
{diag}
"""


def gmail(n, name, addr, status, diag, title, human, kind, reason, action="failed", subject="Delivery Status Notification (Failure)"):
    text = GMAIL_DSN.format(title=title, human=human, diag=diag)
    raw = dsn(n, "Mail Delivery Subsystem <mailer-daemon@googlemail.com>", subject, text,
              [{"Final-Recipient": f"rfc822; {addr}", "Action": action, "Status": status, "Remote-MTA": "dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c0b::1a, the server for the domain gmail.com.)", "Diagnostic-Code": f"smtp; {diag}", "Last-Attempt-Date": DATE}],
              addr, reporting="googlemail.com", extra="X-Failed-Recipients: " + addr + "\n")
    add(name, raw, kind, "dsn", [(addr, kind, reason)])


gmail(67, "67-gmail-unsolicited.eml", "b.ramos@gmail.com", "5.7.1", "550-5.7.1 [198.51.100.7] Our system has detected that this message is\n 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,\n 550-5.7.1 this message has been blocked. 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError",
      "Message blocked", "Your message to b.ramos@gmail.com has been blocked. See technical details below for more information.", "soft", "blocked")
gmail(68, "68-gmail-421-4.7.28-rate-unsolicited.eml", "c.ramos@gmail.com", "4.7.28", "421-4.7.28 [198.51.100.7] Our system has detected an unusual rate of\n 421-4.7.28 unsolicited mail originating from your IP address. To protect our\n 421-4.7.28 users from spam, mail sent from your IP address has been temporarily\n 421 4.7.28 rate limited.",
      "Message not delivered", "There was a temporary problem delivering your message to c.ramos@gmail.com. Gmail will retry for 47 more hours.", "soft", "blocked", action="delayed", subject="Delivery Status Notification (Delay)")
gmail(69, "69-gmail-inbox-full.eml", "d.ramos@gmail.com", "5.2.2", "552-5.2.2 The recipient's inbox is out of storage space. Please direct the\n 552-5.2.2 recipient to\n 552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm",
      "Message not delivered", "Your message couldn't be delivered to d.ramos@gmail.com because the remote server is misconfigured.", "soft", "mailbox_full")
gmail(70, "70-gmail-account-disabled.eml", "e.ramos@gmail.com", "5.2.1", "550-5.2.1 The email account that you tried to reach is disabled. Learn more at\n 550 5.2.1  https://support.google.com/mail/?p=DisabledUser",
      "Address not found", "Your message wasn't delivered to e.ramos@gmail.com because the address couldn't be found, or is unable to receive mail.", "hard", "mailbox_disabled")
gmail(71, "71-gmail-receiving-too-fast.eml", "f.ramos@gmail.com", "4.2.1", "450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n 450-4.2.1 prevents additional messages from being delivered. Please resend your\n 450-4.2.1 message at a later point.",
      "Message not delivered", "There was a temporary problem delivering your message to f.ramos@gmail.com.", "soft", "rate_limited", action="delayed", subject="Delivery Status Notification (Delay)")
gmail(72, "72-gmail-dns-domain-not-found.eml", "g.ramos@nonexistent-domain.example", "5.1.2", "DNS Error: DNS type 'mx' lookup of nonexistent-domain.example responded with code NXDOMAIN Domain name not found: nonexistent-domain.example",
      "Address not found", "Your message wasn't delivered to g.ramos@nonexistent-domain.example because the domain nonexistent-domain.example couldn't be found. Check for typos or unnecessary spaces and try again.", "hard", "domain_unknown")
# Gmail's old prose (no DSN part).
add("73-gmail-old-prose-failed-permanently.eml", prose(73, "Mail Delivery Subsystem <mailer-daemon@googlemail.com>", "Delivery Status Notification (Failure)",
    """Delivery to the following recipient failed permanently:

     nosuch.person@gmail.com

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the server for the recipient domain gmail.com by gmail-smtp-in.l.google.com. [2a00:1450:400c:c0b::1a].

The error that the other server returned was:
550-5.1.1 The email account that you tried to reach does not exist. Please try
550-5.1.1 double-checking the recipient's email address for typos or
550-5.1.1 unnecessary spaces. Learn more at
550 5.1.1  https://support.google.com/mail/?p=NoSuchUser

----- Original message -----

""" + original("nosuch.person@gmail.com", 73), None), "hard", "heuristic", [("nosuch.person@gmail.com", "hard", "user_unknown")])

# --- Yahoo / AOL ---------------------------------------------------------------------------------
YAHOO = """Sorry, we were unable to deliver your message to the following address.

<{addr}>:
{said}

--- Below this line is a copy of the message.

"""
add("74-yahoo-tss04-deferred.eml", prose(74, "MAILER-DAEMON@yahoo.com", "Failure Notice", YAHOO.format(addr="h.reader@yahoo.com",
    said="Remote host said: 421 4.7.0 [TSS04] Messages from 198.51.100.7 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes") + original("h.reader@yahoo.com", 74), None),
    "soft", "heuristic", [("h.reader@yahoo.com", "soft", "blocked")])
add("75-yahoo-mailbox-not-found.eml", prose(75, "MAILER-DAEMON@yahoo.com", "Failure Notice", YAHOO.format(addr="i.reader@yahoo.com",
    said="Remote host said: 552 1 Requested mail action aborted, mailbox not found [RCPT_TO]") + original("i.reader@yahoo.com", 75), None),
    "hard", "heuristic", [("i.reader@yahoo.com", "hard", "user_unknown")])
add("76-aol-will-not-accept.eml", prose(76, "MAILER-DAEMON@aol.com", "Failure Notice", YAHOO.format(addr="j.reader@aol.com",
    said="Remote host said: 554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes") + original("j.reader@aol.com", 76), None),
    "soft", "heuristic", [("j.reader@aol.com", "soft", "blocked")])

# --- Outlook.com / Hotmail -----------------------------------------------------------------------
postfix(77, "77-hotmail-mailbox-unavailable.eml", "k.reader@hotmail.com", "5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable\n    (-1373385710:4192:-2147467259) [Hostname=DM6NAM10FT012.eop-nam10.prod.protection.outlook.com]", "hotmail-com.olc.protection.outlook.com", "hard", "user_unknown")
postfix(78, "78-outlook-s3150-block-list.eml", "l.reader@outlook.com", "5.7.1", "550 5.7.1 Unfortunately, messages from [198.51.100.7] weren't sent.\n    Please contact your Internet service provider since part of their network\n    is on our block list (S3150). You can also refer your provider to\n    http://mail.live.com/mail/troubleshooting.aspx#errors.", "outlook-com.olc.protection.outlook.com", "soft", "blocked")
postfix(79, "79-outlook-spamhaus-service-unavailable.eml", "m.reader@live.com", "5.7.1", "550 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using\n    Spamhaus. To request removal from this list see\n    https://www.spamhaus.org/query/ip/198.51.100.7 (AS3130)", "live-com.olc.protection.outlook.com", "soft", "blocked")
postfix(80, "80-outlook-4.7.650-reputation-rate.eml", "n.reader@outlook.com", "4.7.650", "451 4.7.650 The mail server [198.51.100.7] has been temporarily rate\n    limited due to IP reputation.", "outlook-com.olc.protection.outlook.com", "soft", "blocked", action="delayed", delay=True)

# --- iCloud, GMX/Web.de, Mail.ru, Yandex ---------------------------------------------------------
postfix(81, "81-icloud-user-does-not-exist.eml", "o.reader@icloud.com", "5.1.1", "550 5.1.1 <o.reader@icloud.com>: user does not exist", "mx01.mail.icloud.com", "hard", "user_unknown")
postfix(82, "82-icloud-cs01-policy.eml", "p.reader@icloud.com", "5.7.1", "554 5.7.1 [CS01] Message rejected due to local policy. Please visit\n    https://support.apple.com/en-us/HT204137", "mx02.mail.icloud.com", "soft", "blocked")
postfix(83, "83-gmx-mailbox-unavailable.eml", "q.reader@gmx.de", "5.0.0", "550 Requested action not taken: mailbox unavailable", "mx00.emig.gmx.net", "hard", "user_unknown")
postfix(84, "84-webde-bad-ptr.eml", "r.reader@web.de", "5.0.0", "554-web.de (mxweb112) Nemesis ESMTP Service not available\n    554-No SMTP service 554-Bad DNS PTR resource record. 554 For explanation\n    visit https://postmaster.web.de/en/error-messages?ip=198.51.100.7", "mx-ha03.web.de", "soft", "blocked")
postfix(85, "85-mailru-user-not-found.eml", "s.reader@mail.ru", "5.0.0", "550 Message was not accepted -- invalid mailbox.  Local mailbox\n    s.reader@mail.ru is unavailable: user not found", "mxs.mail.ru", "hard", "user_unknown")
postfix(86, "86-yandex-no-such-user-5.7.1.eml", "t.reader@yandex.ru", "5.7.1", "550 5.7.1 No such user!", "mx.yandex.ru", "hard", "user_unknown")
postfix(87, "87-yandex-spam-suspicion.eml", "u.reader@yandex.ru", "5.7.1", "554 5.7.1 [2] Message rejected under suspicion of SPAM;\n    https://ya.cc/1IrBc 1764051600-abcDEF12", "mx.yandex.ru", "soft", "blocked")
postfix(88, "88-mailru-spam-content.eml", "v.reader@mail.ru", "5.0.0", "550 spam message rejected. Please visit\n    http://help.mail.ru/notspam-support/id?c=AbCd or report details to\n    abuse@corp.mail.ru. Error code: 1A2B3C. ID: 000001.", "mxs.mail.ru", "soft", "blocked")

# --- Filters: Proofpoint, Mimecast, Barracuda, IronPort ------------------------------------------
postfix(89, "89-proofpoint-blocked.eml", "w.reader@enterprise.example", "5.7.0", "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7", "mx0a-001.pphosted.com", "soft", "blocked")
postfix(90, "90-mimecast-invalid-recipient.eml", "x.reader@enterprise.example", "5.0.0", "550 Invalid Recipient -\n    https://community.mimecast.com/docs/DOC-1369#550\n    [AbCdEfGhIjKlMn.uk262]", "eu-smtp-inbound-1.mimecast.com", "hard", "user_unknown")
postfix(91, "91-mimecast-anti-spoofing.eml", "y.reader@enterprise.example", "5.0.0", "550 Rejected by header based Anti-Spoofing policy: news@news.example.org\n    - https://community.mimecast.com/docs/DOC-1369#550", "eu-smtp-inbound-2.mimecast.com", "soft", "blocked")
postfix(92, "92-barracuda-reputation.eml", "z.reader@smallbiz.example", "5.7.1", "554 Service unavailable; Client host [198.51.100.7] blocked using\n    Barracuda Reputation;\n    http://www.barracudanetworks.com/reputation/?r=1&ip=198.51.100.7", "d123.smallbiz.example.cust.barracuda.example", "soft", "blocked")
postfix(93, "93-ironport-address-rejected.eml", "aa.reader@bank.example", "5.1.0", "550 #5.1.0 Address rejected.", "esa1.bank.example.iphmx.com", "hard", "user_unknown")
postfix(94, "94-zoho-mailbox-unavailable.eml", "bb.reader@zoho.com", "5.0.0", None, None, "hard", "user_unknown",
        said="<bb.reader@zoho.com>: host mx.zoho.com[204.141.33.44] said: 550 5.1.1 User does\n    not exist - <bb.reader@zoho.com> (in reply to RCPT TO command)")

# --- Chinese providers ---------------------------------------------------------------------------
def chinese(n, name, sender, subject_b64, text, charset, recipients, attach=True):
    raw = prose(n, sender, subject_b64, b64(text, charset), recipients[0][0], attach=attach, charset=f'"{charset}"', cte="base64")
    add(name, raw, "hard" if any(k == "hard" for _, k, _ in recipients) else "soft", "heuristic", recipients)


def enc_subject(text, charset):
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


chinese(95, "95-netease-163-user-not-found.eml", f"{enc_subject('系统退信', 'gbk')} <postmaster@163.com>", enc_subject("系统退信: Tech Newsletter, November 2026", "gbk"),
        """抱歉，您的邮件被退回来了……

原邮件信息：
时　间：2026-11-25 14:14:42
主　题：Tech Newsletter, November 2026
收件人：li.na.2026@163.com

退信原因：
收件人不存在。
li.na.2026@163.com: 550 User not found: li.na.2026@163.com

建议解决方案：
请检查收件人地址是否正确。
""", "gbk", [("li.na.2026@163.com", "hard", "user_unknown")])
chinese(96, "96-netease-126-content-spam.eml", f"{enc_subject('系统退信', 'gbk')} <postmaster@126.com>", enc_subject("系统退信", "gbk"),
        """抱歉，您的邮件被退回来了……

原邮件信息：
主　题：Tech Newsletter, November 2026
收件人：zhang.wei.1990@126.com

退信原因：
邮件被判定为垃圾邮件，已被拒收。
554 DT:SPM 126 smtp3,DcmowAD3 1764051600 http://mail.163.com/help/help_spam_16.htm?ip=198.51.100.7
""", "gbk", [("zhang.wei.1990@126.com", "soft", "blocked")])
chinese(97, "97-qq-mail-content-denied.eml", f"{enc_subject('系统退信', 'gb18030')} <PostMaster@qq.com>", enc_subject("退信：Tech Newsletter, November 2026", "gb18030"),
        """很抱歉您发送的邮件被退回，以下是该邮件的相关信息：

	主    题：Tech Newsletter, November 2026
	收 件 人：wang.xiao@qq.com

退信原因：邮件内容被拒绝

    腾讯邮件系统返回的信息：
    550 Mail content denied. http://service.mail.qq.com/detail/122/171

此邮件为系统自动发送，请勿直接回复。
""", "gb18030", [("wang.xiao@qq.com", "soft", "blocked")])
chinese(98, "98-qq-mailbox-full.eml", f"{enc_subject('系统退信', 'gb18030')} <PostMaster@qq.com>", enc_subject("退信：Tech Newsletter, November 2026", "gb18030"),
        """很抱歉您发送的邮件被退回，以下是该邮件的相关信息：

	主    题：Tech Newsletter, November 2026
	收 件 人：liu.yang@qq.com

退信原因：收件人邮箱空间已满

    腾讯邮件系统返回的信息：
    552 Quota exceeded or service disabled. http://service.mail.qq.com/detail/0/173
""", "gb18030", [("liu.yang@qq.com", "soft", "mailbox_full")])
chinese(99, "99-sina-recipient-unknown.eml", f"{enc_subject('新浪邮箱退信', 'gb2312')} <mailer-daemon@sina.com>", enc_subject("退信通知", "gb2312"),
        """您好，您发送的邮件因为以下原因没有投递成功：

收件人：zhou.min@sina.com
原因：收件人地址不存在 (550 5.1.1 <zhou.min@sina.com>: Recipient address rejected: User unknown in local recipient table)

这是系统自动发送的邮件，请不要回复。
""", "gb2312", [("zhou.min@sina.com", "hard", "user_unknown")])
chinese(100, "100-aliyun-user-unknown.eml", f"{enc_subject('邮件系统', 'utf-8')} <postmaster@aliyun.com>", enc_subject("邮件投递失败", "utf-8"),
        """您好！

您发送的邮件投递失败：
收件人(sun.li@aliyun.com)不存在。
远程服务器返回：550 Mailbox not found.

--- 以下为原邮件的副本 ---
""", "utf-8", [("sun.li@aliyun.com", "hard", "user_unknown")])
chinese(101, "101-tencent-exmail-does-not-exist.eml", f"{enc_subject('系统退信', 'gb18030')} <PostMaster@exmail.qq.com>", enc_subject("退信：Tech Newsletter, November 2026", "gb18030"),
        """很抱歉您发送的邮件被退回，以下是该邮件的相关信息：

	主    题：Tech Newsletter, November 2026
	收 件 人：hr@company.example.cn

退信原因：收件人不存在

    腾讯企业邮系统返回的信息：
    550 Mailbox not found or access denied
""", "gb18030", [("hr@company.example.cn", "hard", "user_unknown")])
add("102-foxmail-gb18030-declared-ascii.eml", prose(102, "PostMaster@foxmail.com", "=?gb18030?B?zcvQxQ==?=", b64("退信原因：收件人不存在\n收 件 人：qian.xue@foxmail.com\n550 Mailbox not found.\n", "gb18030"),
    "qian.xue@foxmail.com", attach=True, charset="us-ascii", cte="base64"), "hard", "heuristic", [("qian.xue@foxmail.com", "hard", "user_unknown")])

# --- Lotus Notes / Domino, X.400, GroupWise ------------------------------------------------------
add("103-lotus-notes-not-listed.eml", prose(103, "Postmaster@notes.example.com", "DELIVERY FAILURE: User h.schmidt (h.schmidt@notes.example.com) not listed in Domino Directory",
    """Your message

  Subject: Tech Newsletter, November 2026

was not delivered to:

  h.schmidt@notes.example.com

because:

  User h.schmidt (h.schmidt@notes.example.com) not listed in Domino Directory
""", "h.schmidt@notes.example.com", attach=True), "hard", "heuristic", [("h.schmidt@notes.example.com", "hard", "user_unknown")])
add("104-x400-unrecognised-or-name.eml", prose(104, "X.400 Gateway <postmaster@x400gw.example.de>", "Nondelivery Notification: Tech Newsletter, November 2026",
    """Your message was not delivered to the following recipients:

  C=DE;A=VIAT;P=EXAMPLE;O=Bund;S=Mueller;G=Karl;
  <karl.mueller@x400gw.example.de>
      Reason: Unable to transfer
      Diagnostic: Unrecognised O/R name

MTS Identifier: C=DE;A=VIAT;P=EXAMPLE;L=GW1-261125062000Z-99
""", "karl.mueller@x400gw.example.de", attach=True), "hard", "heuristic", [("karl.mueller@x400gw.example.de", "hard", "user_unknown")])
add("105-groupwise-mailbox-full.eml", prose(105, "Mail Delivery System <postmaster@gw.county.example>", "Message status - undeliverable",
    """The message that you sent was undeliverable to the following:
\tr.lee (Mailbox Full)

Possibly truncated original message follows:

""" + original("r.lee@gw.county.example", 105), None), "soft", "heuristic", [])

# --- ESPs that pass DSNs on (SES, SendGrid, Mailgun, Postmark) -----------------------------------
add("106-amazon-ses-dsn.eml", dsn(106, "MAILER-DAEMON@amazonses.com", "Delivery Status Notification (Failure)",
    "An error occurred while trying to deliver the mail to the following recipients:\ncc.reader@example.com\n",
    [{"Final-Recipient": "rfc822; cc.reader@example.com", "Action": "failed", "Status": "5.1.1", "Remote-MTA": "dns; mx.example.com. 203.0.113.106", "Diagnostic-Code": "smtp; 550 5.1.1 user unknown"}],
    "cc.reader@example.com", reporting="a8-32.smtp-out.amazonses.com"), "hard", "dsn", [("cc.reader@example.com", "hard", "user_unknown")])
add("107-esp-forwarded-prose.eml", prose(107, "Bounce Forwarding <bounces@esp.example>", "Delivery failure: Tech Newsletter, November 2026",
    """The following message could not be delivered.

Recipient: dd.reader@example.org
Status: bounce
Reason: 550 5.1.1 The email account that you tried to reach does not exist.

This is a copy of the message, including all the headers:

""" + original("dd.reader@example.org", 107), None), "hard", "heuristic", [("dd.reader@example.org", "hard", "user_unknown")])
add("108-esp-relay-dsn-over-quota.eml", dsn(108, "Mail Delivery Subsystem <mailer-daemon@relay.esp.example>", "Undelivered Mail Returned to Sender",
    "Delivery to the following recipient failed permanently:\n\n    ee.reader@example.net\n\nServer response: 452 4.2.2 The email account that you tried to reach is over quota.\n",
    [{"Final-Recipient": "rfc822; ee.reader@example.net", "Action": "failed", "Status": "5.2.2", "Diagnostic-Code": "smtp; 452 4.2.2 The email account that you tried to reach is over quota."}],
    "ee.reader@example.net", reporting="mxa.relay.esp.example"), "soft", "dsn", [("ee.reader@example.net", "soft", "mailbox_full")])
# --- Complaints ----------------------------------------------------------------------------------
def arf(n, name, sender, subject, fields, rcpt, recipients, kind="complaint"):
    b = f"=_arf_{n}"
    raw = (
        f"Return-Path: <fbl@feedback.example>\nDelivered-To: fbl@news.example.org\nFrom: {sender}\nTo: fbl@news.example.org\nSubject: {subject}\nDate: {DATE}\n"
        f"Message-ID: <arf.{n}@feedback.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report;\n\tboundary=\"{b}\"\n\n"
        f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\nThis is an email abuse report for an email message received from IP 198.51.100.7.\n\n"
        f"--{b}\nContent-Type: message/feedback-report\n\n{fields}\n"
        f"--{b}\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n{original(rcpt, n)}\n--{b}--\n"
    )
    add(name, raw, kind, "arf", [(a, None, None) for a in recipients])


arf(110, "110-yahoo-arf-complaint.eml", "Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>", "FW: Tech Newsletter, November 2026",
    f"Feedback-Type: abuse\nUser-Agent: Yahoo!-Mail-Feedback/2.0\nVersion: 1\nOriginal-Mail-From: <{verp(110)}>\nOriginal-Rcpt-To: gg.reader@yahoo.com\nArrival-Date: {DATE}\nReported-Domain: news.example.org\nAuthentication-Results: mta1000.mail.ne1.yahoo.com  from=news.example.org; domainkeys=neutral (no sig);  from=news.example.org; dkim=pass (ok)\n",
    "gg.reader@yahoo.com", ["gg.reader@yahoo.com"])
arf(111, "111-aol-arf-redacted.eml", "AOL Feedback Loop <scomp@aol.net>", "Email Feedback Report for IP 198.51.100.7",
    f"Feedback-Type: abuse\nUser-Agent: AOL SComp\nVersion: 0.1\nReceived-Date: {DATE}\nSource-IP: 198.51.100.7\nReported-Domain: news.example.org\nRedacted-Address: redacted@\n",
    "redacted@aol.com", [])
arf(112, "112-amazon-ses-complaint.eml", "complaints@email-abuse.amazonses.com", "Complaint about message from news.example.org",
    f"Feedback-Type: abuse\nUser-Agent: Amazon SES Feedback\nVersion: 1\nOriginal-Mail-From: {verp(112)}\nOriginal-Rcpt-To: hh.reader@example.com\nArrival-Date: {DATE}\nSource-IP: 198.51.100.7\n",
    "hh.reader@example.com", ["hh.reader@example.com"])
arf(113, "113-dmarc-auth-failure-report.eml", "DMARC Forensics <forensics@receiver.example>", "FW: Tech Newsletter, November 2026",
    f"Feedback-Type: auth-failure\nUser-Agent: Receiver-Forensics/1.0\nVersion: 1\nOriginal-Mail-From: {verp(113)}\nArrival-Date: {DATE}\nAuth-Failure: dmarc\nReported-Domain: news.example.org\nSource-IP: 198.51.100.7\n",
    "ii.reader@receiver.example", [], kind="not_bounce")

# --- Auto-replies (never bounces) ----------------------------------------------------------------
def reply(n, name, headers, subject, body, sender, charset="utf-8"):
    raw = (
        f"Return-Path: <{sender}>\nDelivered-To: {verp(n)}\nFrom: {sender}\nTo: {verp(n)}\nSubject: {subject}\nDate: {DATE}\n"
        f"Message-ID: <reply.{n}@{sender.split('@')[1]}>\nIn-Reply-To: <3.{n}.5c0ffee{n:04x}@news.example.org>\n{headers}"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n\n{body}"
    )
    add(name, raw, "auto_reply", "heuristic", [(sender, None, None)])


reply(114, "114-gmail-vacation-responder.eml", "Auto-Submitted: auto-replied\nPrecedence: bulk\n", "Away until December 7", "Thanks for your email. I'm away until December 7 with limited access to mail.\n", "jj.reader@gmail.com")
reply(115, "115-x-autoreply-zimbra.eml", "X-Autoreply: yes\nX-Zimbra-Autoreply: yes\n", "Re: Tech Newsletter, November 2026", "I am on parental leave. For urgent matters contact office@company.example.\n", "kk.reader@company.example")
reply(116, "116-precedence-auto-reply.eml", "Precedence: auto_reply\n", "Re: Tech Newsletter, November 2026", "This mailbox is not monitored.\n", "noreply-desk@vendor.example")
reply(117, "117-german-abwesenheitsnotiz.eml", "X-Auto-Response-Suppress: All\n", "Abwesenheitsnotiz: Tech Newsletter, November 2026", "Ich bin bis zum 7. Dezember nicht im Büro. Ihre Nachricht wird nicht weitergeleitet.\n", "ll.reader@firma.example.de")
reply(118, "118-french-reponse-automatique.eml", "", "Réponse automatique : Tech Newsletter, November 2026", "Je suis absent du bureau jusqu'au 7 décembre.\n", "mm.reader@societe.example.fr")
reply(119, "119-spanish-respuesta-automatica.eml", "Auto-Submitted: auto-replied\n", "Respuesta automática: Tech Newsletter, November 2026", "Estaré fuera de la oficina hasta el 7 de diciembre.\n", "nn.reader@empresa.example.es")
reply(120, "120-russian-autoreply.eml", "Auto-Submitted: auto-replied\n", "Автоответ: Tech Newsletter, November 2026", "Я в отпуске до 7 декабря.\n", "oo.reader@yandex.ru")
reply(121, "121-japanese-out-of-office.eml", "", "自動応答: Tech Newsletter, November 2026", "只今不在にしております。12月7日以降に返信いたします。\n", "pp.reader@kaisha.example.jp")
reply(122, "122-outlook-automatic-reply-mentions-delivery.eml", "X-MS-Exchange-Inbox-Rules-Loop: qq.reader@corp.example.com\nX-Auto-Response-Suppress: All\nAuto-Submitted: auto-generated\n", "Automatic reply: Tech Newsletter, November 2026",
      "I have left the company. Mail to this address could not be delivered to me after December 1; please write to service@corp.example.com.\n", "qq.reader@corp.example.com")
reply(123, "123-out-of-office-subject-only.eml", "", "Out of Office: Tech Newsletter, November 2026", "I'm out of the office until Monday.\n", "rr.reader@small.example")

# --- Not bounces ---------------------------------------------------------------------------------
add("124-human-reply-mentions-undeliverable.eml",
    f"Return-Path: <ss.reader@example.org>\nFrom: Sam Reader <ss.reader@example.org>\nTo: {OURS}\nSubject: Re: Tech Newsletter, November 2026\nDate: {DATE}\nMessage-ID: <human.124@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
    "Hi, your October issue came back undeliverable to my old address old.sam@example.org. Please use this one.\n", "not_bounce", "heuristic", [])
add("125-read-receipt-mdn.eml",
    f"Return-Path: <tt.reader@example.org>\nFrom: tt.reader@example.org\nTo: {OURS}\nSubject: Read: Tech Newsletter, November 2026\nDate: {DATE}\nMessage-ID: <mdn.125@example.org>\nMIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=disposition-notification;\n\tboundary=\"=_mdn\"\n\n--=_mdn\nContent-Type: text/plain\n\nYour message was read on Wed, 25 Nov 2026 06:30:00 +0000.\n\n"
    "--=_mdn\nContent-Type: message/disposition-notification\n\nReporting-UA: mail.example.org; Example Mail\nFinal-Recipient: rfc822;tt.reader@example.org\nOriginal-Message-ID: <3.125.5c0ffee007d@news.example.org>\nDisposition: manual-action/MDN-sent-manually; displayed\n\n--=_mdn--\n",
    "not_bounce", "heuristic", [])
postfix(126, "126-postfix-relayed-success.eml", "uu.reader@relay.example", "2.0.0", "250 2.0.0 Ok: queued as 4ZxY3", "mx.relay.example", "not_bounce", None, action="relayed", subject="Successful Mail Delivery Report",
        text="""This is the mail system at host out1.news.example.org.

Your message was successfully delivered to the destination(s)
listed below. If the message was delivered to mailbox you will
receive no further notifications. Otherwise you may still receive
notifications of mail delivery errors from other systems.

                   The mail system

<uu.reader@relay.example>: delivery via mx.relay.example[203.0.113.126]:25: 250 2.0.0
    Ok: queued as 4ZxY3
""")

# --- Bad input -----------------------------------------------------------------------------------
# 300 recipients in one Postfix DSN (a mailing-list explosion on a dead domain): all found, all hard.
many = [f"member{i:03d}@closed-club.example" for i in range(300)]
add("127-postfix-300-recipients.eml", dsn(127, "Mail Delivery System <MAILER-DAEMON@out1.news.example.org>", "Undelivered Mail Returned to Sender",
    POSTFIX_TEXT.format(host="out1.news.example.org", lines="\n".join(f"<{a}>: host mx.closed-club.example[203.0.113.127] said: 550 5.1.1\n    <{a}>: Recipient address rejected: User unknown (in reply to RCPT TO\n    command)" for a in many)),
    [rcpt_block(a, "failed", "5.1.1", f"550 5.1.1 <{a}>: Recipient address rejected: User unknown", "mx.closed-club.example") for a in many], many[0], reporting="out1.news.example.org", returned="headers"),
    "hard", "dsn", [(a, "hard", "user_unknown") for a in many])
# A DSN forwarded inside a forward inside a forward (three levels of message/rfc822).
inner = dsn(128, "Mail Delivery System <MAILER-DAEMON@mx.deep.example>", "Undelivered Mail Returned to Sender", POSTFIX_TEXT.format(host="mx.deep.example", lines="<vv.reader@deep.example>: unknown user: \"vv.reader\""),
            [rcpt_block("vv.reader@deep.example", "failed", "5.1.1", "550 5.1.1 <vv.reader@deep.example>: unknown user", None)], "vv.reader@deep.example", reporting="mx.deep.example")
def wrap(msg, who, level):
    b = f"=_fwd_{level}"
    return (f"From: {who}\nTo: helpdesk@news.example.org\nSubject: Fwd: Undelivered Mail Returned to Sender\nDate: {DATE}\nMessage-ID: <fwd.{level}.128@news.example.org>\nMIME-Version: 1.0\n"
            f"Content-Type: multipart/mixed; boundary=\"{b}\"\n\n--{b}\nContent-Type: text/plain\n\nForwarding this one.\n\n--{b}\nContent-Type: message/rfc822\n\n{msg}\n--{b}--\n")
add("128-dsn-nested-three-deep.eml", wrap(wrap(wrap(inner, "ops1@news.example.org", 1), "ops2@news.example.org", 2), "ops3@news.example.org", 3), "hard", "dsn", [("vv.reader@deep.example", "hard", "user_unknown")])
# Cut off in the middle of the recipient's block: the address is there, the status is not; the
# report's text still says what the server answered for it.
cut = dsn(129, "Mail Delivery System <MAILER-DAEMON@out1.news.example.org>", "Undelivered Mail Returned to Sender", POSTFIX_TEXT.format(host="out1.news.example.org", lines="<ww.reader@example.com>: host mx.example.com[203.0.113.9] said: 550 5.1.1 User unknown"),
          [rcpt_block("ww.reader@example.com", "failed", "5.1.1", "550 5.1.1 User unknown", "mx.example.com")], "ww.reader@example.com", reporting="out1.news.example.org")
add("129-truncated-mid-header.eml", cut[: cut.index("Action: failed") + len("Action: fa")], "hard", "dsn", [("ww.reader@example.com", "hard", "user_unknown")])
# A bounce that declares UTF-8 and is GBK: garbled text must not invent addresses or a verdict beyond what the ASCII says.
gbk = "退信原因：收件人不存在\n收件人：xx.reader@example.cn\n550 5.1.1 User unknown\n".encode("gbk")
add("130-gbk-declared-utf8.eml", envelope(130, "postmaster@example.cn", "=?utf-8?B?6YCA5L+h?=").encode() + b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + gbk,
    "hard", "heuristic", [("xx.reader@example.cn", "hard", "user_unknown")])
# A host name without a domain in the report, and a VERP sender of another list: neither is an address.
add("131-bare-host-and-mailman-verp.eml", prose(131, "MAILER-DAEMON@mx.remote.example", "Undelivered Mail Returned to Sender",
    """This is the mail system at host mx.remote.example.

<yy.reader@remote.example>: host mailhost[10.1.2.3] said: 550 5.1.1 unknown
    user yy.reader@mailhost (in reply to RCPT TO command)

Return-Path: <mailman.0.15a2.x@lists.other.example>

--- Below this line is a copy of the message.

""" + original("yy.reader@remote.example", 131), None), "hard", "heuristic", [("yy.reader@remote.example", "hard", "user_unknown")])
# An unexplained permanent failure stays soft (the contract's choice).
postfix(132, "132-exim-administrative-prohibition.eml", "zz.reader@odd.example", "5.0.0", "550 Administrative prohibition", "mx.odd.example", "soft", "blocked")
postfix(133, "133-postfix-unexplained-permanent.eml", "aaa.reader@odd.example", "5.0.0", "554 Transaction failed", "mx.odd.example", "soft", "other")

# --- More MTAs and report shapes -----------------------------------------------------------------
add("143-outlook-jmrp-complaint.eml",
    f"Return-Path: <staff@hotmail.com>\nFrom: staff@hotmail.com\nTo: jmrp@news.example.org\nSubject: complaint about message from 198.51.100.7\nDate: {DATE}\nMessage-ID: <jmrp.143@hotmail.com>\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"=_jmrp\"\n\n--=_jmrp\nContent-Type: text/plain\n\nThis is an email abuse report for an email message received from IP 198.51.100.7.\n\n"
    "--=_jmrp\nContent-Type: message/rfc822\n\nX-HmXmrOriginalRecipient: <kkk.reader@outlook.com>\nX-Message-Delivery: Vj0xLjE7dXM9MDtsPTA7YT0wO0Q9MTtHRD0xO1NDTD02\n" + original("kkk.reader@outlook.com", 143) + "\n--=_jmrp--\n",
    "complaint", "heuristic", [("kkk.reader@outlook.com", None, None)])
add("144-postmaster-vacation-reply.eml",
    f"Return-Path: <postmaster@smallbiz.example>\nFrom: Postmaster <postmaster@smallbiz.example>\nTo: {verp(144)}\nSubject: Out of Office: Tech Newsletter, November 2026\nDate: {DATE}\nMessage-ID: <oof.144@smallbiz.example>\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
    "The IT desk is closed until Monday. Urgent mail: it@smallbiz.example.\n", "auto_reply", "heuristic", [("postmaster@smallbiz.example", None, None)])
add("145-inline-dsn-fields-in-text.eml", prose(145, "Mail Delivery Subsystem <MAILER-DAEMON@webmail.example>", "Returned mail: delivery problems",
    """Your message could not be delivered. The delivery report follows.

> Reporting-MTA: dns; mta3.webmail.example
>
> Final-Recipient: rfc822; lll.reader@webmail.example
> Action: failed
> Status: 5.1.1
> Diagnostic-Code: smtp; 550 5.1.1 <lll.reader@webmail.example>: mailbox does not exist
""", "lll.reader@webmail.example", attach=True), "hard", "heuristic", [("lll.reader@webmail.example", "hard", "user_unknown")])
add("146-mdaemon-permanent-failure.eml", prose(146, "MDaemon at mail.mdaemon.example <MDaemon@mail.mdaemon.example>", "Permanent Delivery Failure",
    """The attached message had PERMANENT fatal delivery errors!

After one or more unsuccessful delivery attempts the attached message has
been removed from the mail queue on this server.  The number and frequency
of delivery attempts are determined by local configuration parameters.

YOU DO NOT NEED TO RESEND YOUR MESSAGE.

--- Session Transcript ---
 Wed 2026-11-25 06:20:00: Parsing message <mail.mdaemon.example\\pd50000000123.msg>
 Wed 2026-11-25 06:20:00: *  From: bounces+s92-i3-r0146q@bounce.news.example.org
 Wed 2026-11-25 06:20:00: *  To: mmm.reader@partner.example
 Wed 2026-11-25 06:20:01: --> RCPT To:<mmm.reader@partner.example>
 Wed 2026-11-25 06:20:01: <-- 550 <mmm.reader@partner.example>... User is unknown
--- End Transcript ---
""", "mmm.reader@partner.example", attach=True), "hard", "heuristic", [("mmm.reader@partner.example", "hard", "user_unknown")])
add("147-sun-messaging-server-dsn.eml", dsn(147, "Internet Mail Delivery <postmaster@ims.example.gov>", "Delivery Notification: Delivery has failed",
    """This report relates to a message you sent with the following header fields:

  Message-id: <3.147.5c0ffee0093@news.example.org>
  Date: Wed, 25 Nov 2026 06:14:41 +0000
  From: Tech News <news@news.example.org>
  To: nnn.reader@ims.example.gov
  Subject: Tech Newsletter, November 2026

Your message cannot be delivered to the following recipients:

  Recipient address: nnn.reader@ims.example.gov
  Reason: Remote SMTP server has rejected address
  Diagnostic code: smtp;550 5.1.1 unknown or illegal alias: nnn.reader@ims.example.gov
  Remote system: dns;mail.ims.example.gov (TCP|192.0.2.10|40321|192.0.2.11|25) (mail.ims.example.gov ESMTP)
""", [{"Original-Recipient": "rfc822;nnn.reader@ims.example.gov", "Final-Recipient": "rfc822;nnn.reader@ims.example.gov", "Action": "failed", "Status": "5.0.0 (permanent failure)",
       "Remote-MTA": "dns;mail.ims.example.gov (TCP|192.0.2.10|40321|192.0.2.11|25)", "Diagnostic-Code": "smtp;550 5.1.1 unknown or illegal alias: nnn.reader@ims.example.gov"}],
    "nnn.reader@ims.example.gov", reporting="ims.example.gov"), "hard", "dsn", [("nnn.reader@ims.example.gov", "hard", "user_unknown")])
add("148-imail-unknown-user.eml", prose(148, "Mail Administrator <Postmaster@imail.example>", "Undeliverable Mail",
    "Unknown user: ooo.reader@imail.example\n\nOriginal message follows.\n\n" + original("ooo.reader@imail.example", 148), None), "hard", "heuristic", [("ooo.reader@imail.example", "hard", "user_unknown")])
add("149-kerio-mail-loop.eml", prose(149, "Mail Delivery Subsystem <postmaster@kerio.example>", "Undelivered mail: Tech Newsletter, November 2026",
    """Your message did not reach some or all of the intended recipients.

   Subject: Tech Newsletter, November 2026
   Sent: 25.11.2026 06:14

The following recipient(s) could not be reached:

ppp.reader@kerio.example
   Error Type: SMTP
   Remote server (192.0.2.30) issued an error.
   hop count exceeded - possible mail loop
""", "ppp.reader@kerio.example", attach=True), "soft", "heuristic", [("ppp.reader@kerio.example", "soft", "other")])
add("150-exchange-imceaex-x500-address.eml", dsn(150, "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example>", "Undeliverable: Tech Newsletter, November 2026",
    "Delivery has failed to these recipients or groups:\n\nIMCEAEX-_O=CONTOSO_OU=EXCHANGE+20ADMINISTRATIVE+20GROUP+20+28FYDIBOHF23SPDLT+29_CN=RECIPIENTS_CN=QQQREADER@contoso.example\nThe e-mail address you entered couldn't be found.\n",
    [{"Final-Recipient": "rfc822;IMCEAEX-_O=CONTOSO_OU=EXCHANGE+20ADMINISTRATIVE+20GROUP+20+28FYDIBOHF23SPDLT+29_CN=RECIPIENTS_CN=QQQREADER@contoso.example", "Action": "failed", "Status": "5.1.1",
      "Diagnostic-Code": "smtp;550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found"}], "qqq.reader@contoso.example", reporting="EX02.contoso.example"),
    "hard", "dsn", [])

add("151-aol-scomp-complaint.eml",
    f"Return-Path: <scomp@aol.net>\nFrom: scomp@aol.net\nTo: fbl@news.example.org\nSubject: Client TOS Notification\nDate: {DATE}\nMessage-ID: <scomp.151@aol.net>\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"=_scomp\"\n\n--=_scomp\nContent-Type: text/plain\n\nThis is a Client TOS notification. The attached message was reported as spam by an AOL member.\n\n"
    "--=_scomp\nContent-Type: message/rfc822\n\n" + original("redacted@aol.com", 151) + "\n--=_scomp--\n", "complaint", "heuristic", [])
reply(152, "152-vacation-body-only.eml", "", "Re: Tech Newsletter, November 2026", "Hello,\n\nI am currently away on annual leave and will answer when I return on 7 December.\n\nKind regards,\nTom\n", "ttt.reader@example.nz")
add("153-prose-copy-pasted-without-marker.eml", prose(153, "MAILER-DAEMON@gateway.example", "Returned mail: User unknown",
    """The following recipient could not be reached:

    rrr.reader@gateway.example: 550 5.1.1 User unknown

Received: from out1.news.example.org (out1.news.example.org [198.51.100.7])
	by gateway.example with ESMTP id 4ZxY; Wed, 25 Nov 2026 06:14:42 +0000
From: Tech News <news@news.example.org>
To: rrr.reader@gateway.example
Cc: sss.colleague@gateway.example
Subject: Tech Newsletter, November 2026

Hello,
Write to editors@news.example.org or to our partner desk at partners@elsewhere.example.
""", None), "hard", "heuristic", [("rrr.reader@gateway.example", "hard", "user_unknown")])
b = "=_gw154"
add("154-report-in-second-text-part.eml", envelope(154, "Mail Gateway <mailer-daemon@gw.secure.example>", "Delivery Failure") +
    f"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{b}\"\n\n--{b}\nContent-Type: text/plain; charset=us-ascii\n\nThis notice was generated by the mail gateway.\n\n"
    f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\nDelivery to uuu.reader@secure.example failed:\n  550 5.1.1 <uuu.reader@secure.example>... User unknown\n\n"
    f"--{b}\nContent-Type: message/rfc822\n\n{original('uuu.reader@secure.example', 154)}\n--{b}--\n", "hard", "heuristic", [("uuu.reader@secure.example", "hard", "user_unknown")])

add("155-prose-delivery-success-notice.eml", prose(155, "Mail Delivery Subsystem <mailer-daemon@legacy-gw.example>", "Delivery Status Notification (Success)",
    """This is an automatically generated Delivery Status Notification.

Your message has been successfully delivered to the following recipients:

   vvv.reader@legacy-gw.example
""", "vvv.reader@legacy-gw.example", attach=True), "not_bounce", "heuristic", [("vvv.reader@legacy-gw.example", None, None)])

add("156-exim-delay-warning.eml", prose(156, "Mail Delivery System <Mailer-Daemon@mx.remote.example>", "Warning: message 1vNq3x-000Fz1-2b delayed 24 hours",
    """This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.remote.example.

The message identifier is:     1vNq3x-000Fz1-2b
The subject of the message is: Tech Newsletter, November 2026
The date of the message is:    Wed, 25 Nov 2026 06:14:41 +0000

The address to which the message has not yet been delivered is:

  www.reader@unreachable.example
    host mx.unreachable.example [203.0.113.156]
    Delay reason: SMTP error from remote mail server after RCPT TO:<www.reader@unreachable.example>:
    550 5.1.1 mailbox temporarily unknown, try again later

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered. Eventually the mail delivery software will give up,
and when that happens, the message will be returned to you.
""", None, extra="Auto-Submitted: auto-replied\n"), "soft", "heuristic", [("www.reader@unreachable.example", "soft", "transient")])

add("157-messagelabs-no-such-user.eml", prose(157, "MAILER-DAEMON@messagelabs.com", "Mail Delivery Failure",
    """This is an automatically generated Delivery Status Notification.

Delivery to the following recipients failed.

       xxx.reader@corp.example

Reason: 550 5.1.1 <xxx.reader@corp.example>... No such user
""", "xxx.reader@corp.example", attach=True), "hard", "heuristic", [("xxx.reader@corp.example", "hard", "user_unknown")])
postfix(158, "158-docomo-unknown-user.eml", "yyy.reader@docomo.ne.jp", "5.0.0", "550 Unknown user yyy.reader@docomo.ne.jp", "mfsmax.docomo.ne.jp", "hard", "user_unknown")
add("159-interscan-content-rejected.eml", prose(159, "InterScan MSS <postmaster@imss.corp.example>", "Mail could not be delivered",
    """The message could not be delivered to the following address(es):

<zzz.reader@corp.example>: 550 5.7.1 Message content rejected, UBE, id=20261125-0001
""", "zzz.reader@corp.example", attach=True), "soft", "heuristic", [("zzz.reader@corp.example", "soft", "blocked")])
add("160-amavis-banned-content.eml", dsn(160, "Content-filter at mail.filter.example <postmaster@mail.filter.example>", "Undeliverable mail, BANNED CONTENTS (.exe)",
    """This nondelivery report was generated by the program amavisd-new at host mail.filter.example.
Our internal reference code for your message is 12345-01/AbCdEf.

BANNED CONTENTS ALERT

Our content checker found banned name: .exe

in an email to you from: <bounces+sa0-i3-r0160q@bounce.news.example.org>

The message WAS NOT delivered to:
<abc.reader@filter.example>:
   554 5.7.0 Reject, id=12345-01 - BANNED: .exe
""", [{"Final-Recipient": "rfc822; abc.reader@filter.example", "Action": "failed", "Status": "5.7.0", "Diagnostic-Code": "smtp; 554-5.7.0 Reject, id=12345-01 - BANNED: .exe"}],
    "abc.reader@filter.example", reporting="mail.filter.example"), "soft", "dsn", [("abc.reader@filter.example", "soft", "blocked")])


def main():
    expected_path = HERE / "expected.json"
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    owned = {name for name, _, _ in MESSAGES}
    for name, raw, want in MESSAGES:
        (HERE / name).write_bytes(raw.replace(b"\r\n", b"\n"))
        expected[name] = want
    lines = [f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(expected.items(), key=lambda kv: (int(kv[0].split('-')[0]), kv[0]))]
    expected_path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"{len(owned)} reconstructed messages written; expected.json has {len(expected)} entries")


if __name__ == "__main__":
    main()
