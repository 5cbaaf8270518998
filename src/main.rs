fn main() -> std::process::ExitCode {
    tidings::cli::run()
}
