/// jemalloc instead of the system allocator: the GraphQL executor and the row decoders make many
/// small short-lived allocations from several threads at once, and glibc's malloc spent a fifth
/// of the server's CPU on them (docs/PERFORMANCE.md has the before/after). It is unprefixed, so
/// SQLite and libpq allocate from it too; its options are set at build time in
/// `.cargo/config.toml`.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    crm_gateway::cli::main()
}
