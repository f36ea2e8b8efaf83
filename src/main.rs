//! The `opsdeck` binary: parses the command line and hands off to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // One TLS crypto provider for every client (reqwest, google-cloud-auth, kube).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let _ = color_eyre::install();
    let cli = opsdeck::cli::Cli::parse();
    let _log = opsdeck::logging::init(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("opsdeck: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    let code = runtime.block_on(opsdeck::launch::run(cli));
    // Probes still in flight (a hung endpoint) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::ExitCode::from(code)
}
