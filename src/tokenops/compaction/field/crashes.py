"""Crashes as .NET, Rust, AddressSanitizer and Ruby print them."""

from __future__ import annotations

from tokenops.compaction.field.formats import Ctx
from tokenops.compaction.field.record import Sheet


def dotnet(s: Sheet, c: Ctx, outer: str, inner: str) -> None:
    """An unhandled .NET exception with its inner exception, as the runtime prints it."""
    s.bad(f"Unhandled exception. System.InvalidOperationException: {outer}", "dotnet-trace")
    s.bad(f" ---> System.Net.Http.HttpRequestException: {inner}", "dotnet-trace")
    for k, (fn, where) in enumerate(
        [
            ("System.Net.Http.HttpConnectionPool.ConnectToTcpHostAsync(String host, Int32 port)", ""),
            ("Rating.Client.QuotaClient.ReserveAsync(QuotaRequest req)", "/src/Rating/Client/QuotaClient.cs"),
            ("Rating.Api.Handlers.ReserveHandler.Handle(HttpContext ctx)", "/src/Rating/Api/ReserveHandler.cs"),
        ]
    ):
        tail = f" in {where}:line {c.r.randint(20, 400)}" if where else ""
        s.frame(f"   at {fn}{tail}", "dotnet", key=k == 1)
    s.bad("   --- End of inner exception stack trace ---", "dotnet-trace", key=False)
    for fn in (
        "Rating.Api.Handlers.ReserveHandler.Handle(HttpContext ctx)",
        "Microsoft.AspNetCore.Routing.EndpointMiddleware.Invoke(HttpContext httpContext)",
    ):
        where = " in /src/Rating/Api/ReserveHandler.cs:line 88" if fn.startswith("Rating") else ""
        s.frame(f"   at {fn}{where}", "dotnet")


def rust_panic(s: Sheet, c: Ctx, message: str, file: str) -> None:
    s.bad(
        f"thread 'tokio-runtime-worker' panicked at {file}:{c.r.randint(10, 300)}:{c.r.randint(5, 40)}:", "rust-panic"
    )
    s.bad(message, "rust-panic")
    s.put("stack backtrace:")
    frames = [
        (
            "std::panicking::begin_panic_handler",
            "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/panicking.rs:665:5",
        ),
        (
            "core::panicking::panic_bounds_check",
            "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs:273:5",
        ),
        ("gtpu_relay::decap::ExtHeaders::parse", f"./{file}:{c.r.randint(10, 300)}:21"),
        ("gtpu_relay::decap::handle_packet", f"./src/decap.rs:{c.r.randint(10, 300)}:9"),
    ]
    for k, (fn, at) in enumerate(frames):
        s.frame(f"  {k:>2}: {fn}", "rust", key=k == 2)
        s.frame(f"             at {at}", "rust", key=k == 2)
    s.put("note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.")


def asan(s: Sheet, c: Ctx, address: str) -> None:
    pid = c.r.randint(1000, 60000)
    s.bad(
        f"=={pid}==ERROR: AddressSanitizer: heap-use-after-free on address {address} at pc 0x55d4{c.hexs(8)} "
        f"bp 0x7ffd{c.hexs(8)} sp 0x7ffd{c.hexs(8)}",
        "asan",
        address,
    )
    s.bad(f"READ of size 4 at {address} thread T3", "asan", address, key=False)
    for k, (fn, where) in enumerate(
        [
            ("sess_lookup", "/src/pfcp/session.c:212:9"),
            ("pfcp_handle_mod_req", "/src/pfcp/handler.c:88:14"),
            ("worker_loop", "/src/core/worker.c:301:5"),
            ("start_thread", ""),
        ]
    ):
        tail = f" {where}" if where else " (/lib/x86_64-linux-gnu/libc.so.6+0x94ac2)"
        s.frame(f"    #{k} 0x55d4{c.hexs(8)} in {fn}{tail}", "asan", key=k == 0)
    s.put("", f"{address} is located 16 bytes inside of 48-byte region [0x6030{c.hexs(8)},0x6030{c.hexs(8)})")
    s.put("SUMMARY: AddressSanitizer: heap-use-after-free /src/pfcp/session.c:212:9 in sess_lookup")


def ruby(s: Sheet, c: Ctx, message: str) -> None:
    s.bad(
        f"/srv/oss/app/jobs/inventory_sync.rb:{c.r.randint(10, 200)}:in `block in perform': {message} "
        "(Net::ReadTimeout)",
        "ruby-trace",
    )
    for fn, where in (
        ("perform", "app/jobs/inventory_sync.rb"),
        ("each", "app/models/site.rb"),
        ("run", "lib/jobs/runner.rb"),
    ):
        s.frame(f"\tfrom /srv/oss/{where}:{c.r.randint(10, 300)}:in `{fn}'", "ruby")
