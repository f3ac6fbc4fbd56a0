"""Stack traces of Java, Python, Go and Node.js services, with their causes chained as each runtime prints them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tokenops.compaction.noc.record import Out

_JAVA_LIBS = {
    "jdbc": [
        "com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:{n})",
        "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:{n})",
        "com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:{n})",
        "org.springframework.jdbc.datasource.DataSourceTransactionManager.doBegin(DataSourceTransactionManager.java:{n})",
        "org.springframework.transaction.support.AbstractPlatformTransactionManager.startTransaction(AbstractPlatformTransactionManager.java:{n})",
        "org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:{n})",
        "org.postgresql.jdbc.PgConnection.<init>(PgConnection.java:{n})",
    ],
    "web": [
        "org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:{n})",
        "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:{n})",
        "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:{n})",
        "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:{n})",
        "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:{n})",
        "java.base/java.lang.Thread.run(Thread.java:{n})",
    ],
    "netty": [
        "io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead(AbstractChannelHandlerContext.java:{n})",
        "io.netty.handler.codec.ByteToMessageDecoder.channelRead(ByteToMessageDecoder.java:{n})",
        "io.netty.channel.nio.NioEventLoop.processSelectedKeys(NioEventLoop.java:{n})",
        "io.netty.util.concurrent.SingleThreadEventExecutor$4.run(SingleThreadEventExecutor.java:{n})",
        "io.netty.util.internal.ThreadExecutorMap$2.run(ThreadExecutorMap.java:{n})",
    ],
    "kafka": [
        "org.apache.kafka.clients.producer.internals.Sender.completeBatch(Sender.java:{n})",
        "org.apache.kafka.clients.producer.internals.Sender.handleProduceResponse(Sender.java:{n})",
        "org.apache.kafka.clients.NetworkClient.completeResponses(NetworkClient.java:{n})",
        "org.apache.kafka.clients.NetworkClient.poll(NetworkClient.java:{n})",
        "org.apache.kafka.clients.producer.internals.Sender.runOnce(Sender.java:{n})",
    ],
    "io": [
        "java.base/sun.nio.ch.FileDispatcherImpl.write0(Native Method)",
        "java.base/sun.nio.ch.IOUtil.writeFromNativeBuffer(IOUtil.java:{n})",
        "java.base/sun.nio.ch.FileChannelImpl.write(FileChannelImpl.java:{n})",
        "kafka.log.LogSegment.append(LogSegment.scala:{n})",
        "kafka.log.UnifiedLog.append(UnifiedLog.scala:{n})",
    ],
}
_PY_LIBS = [
    ("/usr/lib/python3.11/asyncio/base_events.py", "create_connection", "raise exceptions[0]"),
    (
        "/opt/app/.venv/lib/python3.11/site-packages/aiohttp/connector.py",
        "_wrap_create_connection",
        "return await self._loop.create_connection(*args, **kwargs)",
    ),
    (
        "/opt/app/.venv/lib/python3.11/site-packages/dns/resolver.py",
        "resolve",
        "timeout = self._compute_timeout(start, lifetime, resolution.errors)",
    ),
    (
        "/opt/app/.venv/lib/python3.11/site-packages/sqlalchemy/pool/base.py",
        "__connect",
        "self.dbapi_connection = connection = pool._invoke_creator(self)",
    ),
    ("/usr/lib/python3.11/ssl.py", "do_handshake", "self._sslobj.do_handshake()"),
]


_PY_SOURCE = [
    "resp = await self.session.post(url, json=body)",
    "answer = resolver.resolve(name, rtype)",
    "conn = self.pool.connect()",
    "return await handler(msg)",
]


@dataclass
class Exc:
    """One exception of a chain: its type, its message and the identifiers in the message."""

    type: str
    message: str
    ids: list[str] = field(default_factory=list)


def _n(r: random.Random) -> int:
    return r.randint(40, 1800)


def java(
    out: Out, r: random.Random, chain: list[Exc], app: str, libs: str, *, root: bool = False, thread: str = ""
) -> None:
    """`chain[0]` is thrown, each next one its cause; printed as the JVM prints it, with `... N more`."""
    style = "java-trace"
    classes = ["Handler", "Service", "Client", "Repository", "Dispatcher", "Session", "Adapter"]
    for depth, exc in enumerate(chain):
        last = depth == len(chain) - 1
        head = f"{exc.type}: {exc.message}" if exc.message else exc.type
        if depth:
            head = "Caused by: " + head
        elif thread:
            head = f'Exception in thread "{thread}" {head}'
        out.error(head, style, exc.ids, root=root and (depth == 0 or last))
        frames = r.randint(2, 5) if depth < len(chain) - 1 else r.randint(3, 7)
        lib = _JAVA_LIBS[libs]
        for k in range(r.randint(1, 3)):
            out.frame("\tat " + lib[k % len(lib)].format(n=_n(r)), "java")
        for k in range(frames):
            cls = r.choice(classes)
            prefix = app.rsplit(".", 1)[-1].capitalize()
            where = f"{prefix}{cls}.java:{_n(r)}"
            line = f"\tat {app}.{prefix}{cls}.{r.choice(['handle', 'process', 'send', 'lookup', 'apply'])}({where})"
            out.frame(line, "java", where, root=root and last and k == 0)
        if depth:
            out.frame(f"\t... {r.randint(12, 90)} more", "java")
        else:
            for frame in _JAVA_LIBS["web" if libs != "kafka" else "kafka"][: r.randint(3, 6)]:
                out.frame("\tat " + frame.format(n=_n(r)), "java")
        if depth == 0 and len(chain) > 1 and r.random() < 0.25:
            out.error("\tSuppressed: java.lang.IllegalStateException: Connection pool shut down", style)
            out.frame("\t\tat " + _JAVA_LIBS["jdbc"][1].format(n=_n(r)), "java")
            out.frame(f"\t\t... {r.randint(5, 40)} more", "java")


def python(
    out: Out, r: random.Random, chain: list[Exc], module: str, *, root: bool = False, direct: bool = True
) -> None:
    """`chain[0]` is the first raised; each next one raised while handling it (or `from` it, if `direct`)."""
    style = "python-trace"
    for depth, exc in enumerate(chain):
        last = depth == len(chain) - 1
        if depth:
            out.add("")
            marker = (
                "The above exception was the direct cause of the following exception:"
                if direct
                else "During handling of the above exception, another exception occurred:"
            )
            out.error(marker, style)
            out.add("")
        out.error("Traceback (most recent call last):", style)
        for k in range(r.randint(1, 3)):
            path = f"/opt/app/{module}/{r.choice(['client', 'worker', 'handlers', 'sync'])}.py"
            line_no = r.randint(10, 600)
            where = f'"{path}", line {line_no}'
            out.frame(
                f"  File {where}, in {r.choice(['run', 'send_ccr', 'resolve_peer', 'handle', 'flush'])}",
                "python",
                where,
                root=root and last and k == 0,
            )
            out.add("    " + r.choice(_PY_SOURCE))
        for path, fn, src in r.sample(_PY_LIBS, r.randint(1, 3)):
            out.frame(f'  File "{path}", line {r.randint(50, 1500)}, in {fn}', "python")
            out.add(f"    {src}")
        out.error(f"{exc.type}: {exc.message}", style, exc.ids, root=root and (last or depth == 0))


def go_panic(
    out: Out, r: random.Random, message: str, repo: str, ids: list[str], *, root: bool = False, fatal: bool = False
) -> None:
    """A Go panic (or a fatal runtime error) with the goroutine that raised it and a few others."""
    style = "go-panic"
    if fatal:
        out.error(f"fatal error: {message}", style, ids, root=root)
        out.add("")
        out.add("runtime stack:")
        for fn, where in (
            ("runtime.throw", "panic.go"),
            ("runtime.sysMap", "mem_linux.go"),
            ("runtime.(*mheap).grow", "mheap.go"),
        ):
            out.frame(f"{fn}({{0x{r.getrandbits(24):x}?, 0x{r.getrandbits(16):x}?}})", "go")
            out.frame(
                f"\t/usr/local/go/src/runtime/{where}:{_n(r)} +0x{r.getrandbits(12):x} fp=0x{r.getrandbits(40):x} "
                f"sp=0x{r.getrandbits(40):x} pc=0x{r.getrandbits(24):x}",
                "go",
            )
    else:
        out.error(f"panic: {message}", style, ids, root=root)
        out.error(
            f"[signal SIGSEGV: segmentation violation code=0x1 addr=0x{r.getrandbits(8):x} pc=0x{r.getrandbits(24):x}]",
            style,
        )
    out.add("")
    goroutines = r.randint(1, 4) if not fatal else r.randint(3, 12)
    for g in range(goroutines):
        state = (
            "running" if g == 0 else r.choice(["select", "chan receive", "IO wait", "semacquire", "sync.Mutex.Lock"])
        )
        minutes = f", {r.randint(1, 59)} minutes" if g and r.random() < 0.5 else ""
        out.frame(f"goroutine {r.randint(1, 40000)} [{state}{minutes}]:", "go")
        for k in range(r.randint(3, 9)):
            pkg = r.choice(["dispatch", "sip", "transport", "registrar", "cdr"])
            fn = r.choice(["(*Pool).Pick", "(*Router).Route", "(*Conn).readLoop", "(*Table).Lookup", "handleInvite"])
            where = f"/build/internal/{pkg}/{pkg}.go:{_n(r)}"
            out.frame(
                f"{repo}/internal/{pkg}.{fn}(0xc000{r.getrandbits(24):06x}, {{0xc000{r.getrandbits(24):06x}, "
                f"0x{r.randint(8, 64):x}}})",
                "go",
                root=root and g == 0 and k == 0,
            )
            out.frame(
                f"\t{where} +0x{r.getrandbits(12):x}", "go", where.rsplit("/", 1)[1], root=root and g == 0 and k == 0
            )
        out.frame(f"created by {repo}/internal/sip.(*Server).Serve in goroutine 1", "go")
        out.frame(f"\t/build/internal/sip/server.go:{_n(r)} +0x{r.getrandbits(12):x}", "go")
        out.add("")


def goroutine_dump(out: Out, r: random.Random, repo: str, count: int) -> None:
    """A SIGQUIT dump of a healthy process: many parked goroutines, no failure."""
    for _ in range(count):
        state = r.choice(["select", "chan receive", "IO wait", "sleep", "sync.Cond.Wait"])
        out.frame(f"goroutine {r.randint(1, 90000)} [{state}, {r.randint(1, 300)} minutes]:", "go")
        out.frame("runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)", "go")
        out.frame(f"\t/usr/local/go/src/runtime/proc.go:{_n(r)} +0xce", "go")
        for _ in range(r.randint(2, 6)):
            pkg = r.choice(["metrics", "transport", "registrar", "cache", "grpc"])
            out.frame(f"{repo}/internal/{pkg}.(*Worker).loop(0xc000{r.getrandbits(24):06x})", "go")
            out.frame(f"\t/build/internal/{pkg}/worker.go:{_n(r)} +0x{r.getrandbits(12):x}", "go")
        out.add("")


def node(out: Out, r: random.Random, exc: Exc, cause: Exc | None, app: str, *, root: bool = False) -> None:
    """An uncaught Node.js error with its `[cause]`, as the runtime prints it before exiting."""
    style = "node-trace"
    lib = f"/app/node_modules/{r.choice(['ioredis/built/redis/event_handler.js', 'undici/lib/core/connect.js'])}"
    out.add(f"{lib}:{_n(r)}", f"            throw new {exc.type}(msg);", "            ^", "")
    out.error(f"{exc.type}: {exc.message}", style, exc.ids, root=root)
    for k in range(r.randint(2, 5)):
        where = f"/app/{app}/{r.choice(['hlr', 'notify', 'session', 'store'])}.js:{_n(r)}:{r.randint(5, 60)}"
        out.frame(
            f"    at {r.choice(['resolveSubscriber', 'Session.load', 'async Promise.all', 'flush'])} ({where})",
            "node",
            where,
            root=root and k == 0,
        )
    for fn, where in (("Socket.emit", "node:events:517:28"), ("TCP.<anonymous>", "node:net:350:12")):
        out.frame(f"    at {fn} ({where})", "node")
    if cause is not None:
        out.error(f"  [cause]: {cause.type}: {cause.message}", style, cause.ids, root=root)
        out.frame("      at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16) {", "node")
        out.add("    errno: -111,", "    code: 'ECONNREFUSED',", "    syscall: 'connect'", "  }")
    out.add("", f"Node.js v{r.choice(['18.19.0', '20.11.1', '22.3.0'])}")
