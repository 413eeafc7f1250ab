// mimalloc keeps memory flat under load (glibc malloc grows an arena per blocking thread).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    crm_gateway::cli::main()
}
