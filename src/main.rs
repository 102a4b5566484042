//! The `mutua` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    match mutua::cli::run() {
        Ok(code) => code,
        Err(reason) => {
            eprintln!("error: {reason}");
            ExitCode::from(1)
        }
    }
}
