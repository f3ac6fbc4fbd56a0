"""Diagnostic lines recognised by structure and severity, in the formats operators read, not by keywords alone."""

from __future__ import annotations

import pytest

from tokenops.compaction.lines import ERROR, MENTION, WARNING, classify_text, stated
from tokenops.compaction.scan import FRAME, SOURCE, classify, scan

ERRORS = [
    "     1042 input errors, 1042 CRC, 0 frame, 0 overrun, 0 ignored, 0 abort",
    "     rx_crc_errors_phy: 1042",
    "CRC errors: 1042",
    "Tests run: 12, Failures: 1, Errors: 0, Skipped: 1",
    'hikaricp_connections_timeout_total{instance="10.244.7.113:8081",job="chf_rating"} 2588',
    'up{instance="10.244.2.249:9090", job="netconf-agent"} => 0 @[1733565826.150]',
    "RP/0/RSP0/CPU0:Dec  7 10:54:51.445 UTC: ifmgr[254]: %PKT_INFRA-LINK-3-UPDOWN : Interface Hu0/0/0/1, changed "
    "state to Down",
    "LC/0/0/CPU0:Dec  7 14:58:51.323 UTC: bgp[1235]: %ROUTING-BGP-5-ADJCHANGE : neighbor 192.0.2.28 Down - BGP "
    "Notification",
    "2024 Dec  7 11:41:22 leaf5 %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/49 is down (Link failure)",
    "Dec  7 2024 09:41:02+08:00 CE-AGG-03 %%01IFNET/2/linkDown_active(l):CID=0x807a0405;The interface status changes.",
    "Dec  7 15:33:19  pe2 rpd[8595]: RPD_BGP_NEIGHBOR_STATE_CHANGED: BGP peer 2001:db8::2 (External AS 4809) changed "
    "state "
    "from Established to Idle (event HoldTime)",
    "Dec  7 09:41:02  pe2 mib2d[1]: SNMP_TRAP_LINK_DOWN: ifIndex 545, ifAdminStatus up(1), ifOperStatus down(2), "
    "ifName xe-0/0/1",
    "2001:db8:a56::57ab    0 65001   15728   60286   195744    0    0 08:12:33 Active",
    "Hu0/0/0/1           10.0.12.113     0s(0s*0)         900ms(300ms*3)   DOWN",
    "12/07/24,09:22:11.802  NOTI     'pcrf02.epc' -> 'STATE_CLOSED' 'Suspect'",
    "web-7d9c6b5f4-x2x9q                 0/1     CrashLoopBackOff   41 (2m ago)      3d",
    "      Exit Code:    137",
    "command terminated with exit code 137",
    "(rc=2)",
    "   Main PID: 4410 (code=exited, status=1/FAILURE)",
    "< HTTP/2 503 ",
    '10.1.2.3 - - [07/Dec/2024:09:41:02 +0800] "POST /nchf/v3/chargingdata HTTP/2.0" 503 197 "-" "smf/2.3.1"',
    "SIP/2.0 503 Service Unavailable",
    "  412 9.130000 10.30.2.7 → 10.20.1.5 SIP 612 Status: 480 Temporarily Unavailable | ",
    " 09:41:02.123456 +0.512  <── 408 Request Timeout ────",
    'Reason: Q.850;cause=38;text="Network out of order"',
    '{"callid":"a@b","method":"503","reply_reason":"Service Unavailable"}',
    ";; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 26528",
    "5 packets transmitted, 0 received, +3 errors, 100% packet loss, time 4093ms",
    "/dev/mapper/vg1-kafka      1.8T  1.8T     0 100% /var/lib/kafka",
    "<131>1 2024-12-07T12:14:18.582+08:00 ntp-1 ntpd 470 CONN - peer 10.61.2.1:123 closed the connection",
    "<27>Dec  7 09:41:19 sbc-media-1 rtpengine[7615]: media timeout on call 72-35670@10.19.53.182",
    '{"level":50,"time":1733564462123,"msg":"x"}',
    '{"__REALTIME_TIMESTAMP":"1733564462123456","PRIORITY":"3","MESSAGE":"x"}',
    '{"@t":"2024-12-07T09:41:02Z","@mt":"token rejected","@l":"Error"}',
    "ts=2024-12-07T09:41:02.123Z level=error caller=pfcp/session.go:88 msg=x",
    'E1207 09:41:02.123456       1 reconciler.go:142] "sync"',
    'Dec 07 09:41:02 node-1 kubelet[1649]: E1207 09:41:02.123456    1649 pod_workers.go:1300] "x"',
    "2024-12-07T09:41:02.123+0800\t\x1b[31mERROR\x1b[0m\tsip/transport.go:12\tboom",
    "2024/12/07 09:41:02 [error] 31#31: *104 upstream timed out (110: Connection timed out)",
    "2024-12-07 09:41:02.123456+08:00 [error] <0.23491.0> x",
    "[ERROR] plugin/errors: 2 a.example. SRV: read udp 10.0.0.1:1->10.0.0.2:53: i/o timeout",
    "2024-12-07 09:41:02.123 CST [2211] charging@cdrdb FATAL:  remaining connection slots are reserved",
    "2024-12-07 09:41:02.123 CST [2211] charging@cdrdb LOG:  process 2211 still waiting for AccessExclusiveLock on "
    "relation 1",
    "SEVERE: policy store unavailable",
    'AL123456,Major,FAN_TRAY_FAIL,2024-12-07 09:00:00,,"pe1/fan2, Fan tray failure",pe1,Yes',
    "| 1100342 | Critical | 2024-12-07 09:41:02 | pe1 | PM0 | Power module input lost |",
    "BGPSessionDown                    2024-12-07 09:30:00 CST  BGP session down                   active",
    "Dec  7 11:24:21 wk-3 rtpengine[58425]: no matching transaction for reply, Call-ID c5ad7ac5",
    "Dec  7 09:41:02 hss-fe-1 chronyd[812]: System clock wrong by 187.532 seconds",
    "Warning  BackOff    3m (x41 over 12m)  kubelet  Back-off restarting failed container sbc-sig",
    "Mar 18 04:57:00 lb-1 haproxy[2211]: 10.8.24.7:21122 [18/Mar/2025:04:57:00.757] fe_api be_api/srv4 "
    '0/0/-1/-1/3001 503 2025 - - SC-- 52/21/0/0/0 0/0 "POST /v2/usage HTTP/1.1"',
    "    Result-Code: DIAMETER_UNABLE_TO_COMPLY (5012)",
    "(command exited 2)",
    "api-4           NotReady   <none>          166d   v1.30.6",
]
ORDINARY = [
    "     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored, 0 abort",
    "     rx_crc_errors_phy: 0",
    "Tests run: 12, Failures: 0, Errors: 0, Skipped: 1",
    'scscf_errors_total{instance="10.244.1.83:9090",job="scscf"} 0',
    'up{instance="10.244.2.249:9090", job="netconf-agent"} => 1 @[1733565826.150]',
    "LC/0/0/CPU0:Dec  7 10:20:11.257 UTC: snmpd[1645]: %SNMP-SNMP-6-POLL : SNMP polling from 10.0.67.61 ok",
    "SIP/2.0 200 OK",
    "SIP/2.0 407 Proxy Authentication Required",
    'Reason: Q.850;cause=16;text="Normal call clearing"',
    ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 26528",
    "5 packets transmitted, 5 received, 0% packet loss, time 4005ms",
    "/dev/mapper/vg0-var        1.8T  1.0T     0 56% /var",
    'I1207 09:41:02.123456       1 prober.go:142] "Probe succeeded"',
    '{"level":30,"time":1,"msg":"session created"}',
    "src/telco/ran/engine.py:12:    timeout_ms = cfg.timeout_ms",
    "(rc=0)",
    "2024-12-07 09:41:02,123 INFO  [main] c.t.X - started in 3.2s",
    "    Result-Code: DIAMETER_SUCCESS (2001)",
    "db-a1                     : ok=6    changed=1    unreachable=0    failed=0    skipped=0",
]


@pytest.mark.parametrize("line", ERRORS)
def test_a_failure_is_an_error_line_whatever_its_format(line: str) -> None:
    assert classify_text(line) == ERROR


@pytest.mark.parametrize("line", ORDINARY)
def test_routine_lines_and_counters_at_zero_are_not(line: str) -> None:
    assert classify_text(line) is None


def test_a_routine_level_hides_trouble_said_in_passing_and_a_cleared_alarm_is_a_mention() -> None:
    assert classify_text("Dec  7 09:33:11 w1 kamailio[1]: INFO: usrloc: contact sip:a@b expired, removed") == MENTION
    assert classify_text("ALM-540833  CLEARED   2024-05-14T00:13:17Z  cell-1  S1 link down") == MENTION
    assert classify_text("SIP/2.0 486 Busy Here") == MENTION
    assert classify_text("2024-12-07 09:41:02,123 WARN  [main] c.t.X - slow response") == WARNING
    assert classify_text("2025-03-18T04:50:22Z 14 [Note] [MY-010914] [Server] Aborted connection 8045 to db") == MENTION


def test_stated_severity_is_read_in_each_format() -> None:
    assert stated("<131>1 2024-12-07T12:14:18Z host app 1 - - x") == 3
    assert stated("<30>Dec  7 09:41:19 host app[1]: x") == 6
    assert stated("RP/0/RP0/CPU0:Dec  7 09:41:02.123 UTC: ifmgr[254]: %PKT_INFRA-LINK-3-UPDOWN : x") == 3
    assert stated('{"level":40,"msg":"x"}') == 4
    assert stated("W1207 09:41:02.123456 1 x.go:1] y") == 4
    assert stated("Dec 07, 2024 9:41:02 AM com.x.Y run") is None


@pytest.mark.parametrize(
    "trace",
    [
        "java.lang.IllegalStateException: boom\n\tat com.x.Y.run(Y.java:12)\n\t... 12 more",
        "Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in f\n    g()\nKeyError: 'a'",
        "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:9 +0x1d",
        "TypeError: x is undefined\n    at load (/app/src/a.js:1:2)\n    at async Promise.all (index 0)",
        "System.InvalidOperationException: x\n   at App.Svc.Run() in /src/Svc.cs:line 42",
        "thread 'main' panicked at src/main.rs:2:5:\n   0: std::panicking::begin_panic\n             at "
        "/rustc/abc/library/std/src/panicking.rs:616:12",
        "NoMethodError: undefined method\n\tfrom /app/lib/a.rb:12:in `run'",
        "#0  0x00007f3a in raise () from /lib64/libc.so.6\n#1  0x00000040 in main () at main.c:9",
        "PHP Fatal error:  Uncaught Exception: x in /var/www/a.php:3\n#0 /var/www/b.php(12): f()",
        "==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x6030\n    #0 0x55d4 in sess_lookup "
        "/src/s.c:212:9",
    ],
)
def test_stack_frames_of_every_runtime_are_frames(trace: str) -> None:
    spans = scan(trace)
    kinds = {trace[s.start : s.end]: s.kind for s in spans}
    frames = [line for line, kind in kinds.items() if kind in (FRAME, SOURCE)]
    assert frames, kinds
    assert any(kind == ERROR for kind in kinds.values()) or trace.startswith("#0"), kinds
    assert all(classify(line) in (FRAME, None) for line in frames if kinds[line] == FRAME)


def test_a_go_location_brings_its_function_line_and_a_record_its_detail_lines() -> None:
    go = (
        "goroutine 7 [running]:\n"
        "github.com/x/sbc/dispatch.(*Pool).Pick(0xc000412000, {0xc0001a2b40, 0x24})\n"
        "\t/build/pool.go:142 +0x2c"
    )
    assert [s.kind for s in scan(go)] == [FRAME, FRAME, FRAME]
    pg = (
        "2024-12-07 09:41:02.123 CST [2211] charging@cdrdb ERROR:  duplicate key value violates unique constraint\n"
        "2024-12-07 09:41:02.123 CST [2211] charging@cdrdb DETAIL:  Key (id)=(42) already exists.\n"
        "2024-12-07 09:41:02.123 CST [2211] charging@cdrdb STATEMENT:  INSERT INTO cdr VALUES ($1)\n"
        "2024-12-07 09:41:03.000 CST [2212] [unknown]@[unknown] LOG:  connection received: host=10.0.0.1"
    )
    assert [s.kind for s in scan(pg)] == [ERROR, ERROR, ERROR]
    jul = "Dec 07, 2024 9:41:02 AM com.telco.pcf.Store put\nSEVERE: policy store unavailable"
    assert [(s.start, s.kind) for s in scan(jul)] == [(0, ERROR), (jul.index("SEVERE"), ERROR)]
    rust = "thread 'main' panicked at src/ext.rs:271:36:\nindex out of bounds: the len is 4 but the index is 6\nnote: x"
    assert [s.kind for s in scan(rust)] == [ERROR, ERROR]
