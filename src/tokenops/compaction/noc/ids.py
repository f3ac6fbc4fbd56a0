"""Identifiers as a NOC engineer meets them: subscriber, call, trace, network and ticket IDs."""

from __future__ import annotations

import random
import string

_HEX = "0123456789abcdef"
_POD_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated suffixes


def luhn(digits: str) -> str:
    """The Luhn check digit of `digits` (IMEI, ICCID)."""
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


class Ids:
    """A seeded source of identifiers; one per session, so a session reuses its subscribers and nodes."""

    def __init__(self, rng: random.Random, mcc: str = "460", mnc: str = "01") -> None:
        self.r = rng
        self.mcc, self.mnc = mcc, mnc
        self.realm = f"ims.mnc0{mnc}.mcc{mcc}.3gppnetwork.org"
        self.epc = f"epc.mnc0{mnc}.mcc{mcc}.3gppnetwork.org"
        self.subscribers = [self._subscriber() for _ in range(40)]

    def hex(self, n: int) -> str:
        return "".join(self.r.choice(_HEX) for _ in range(n))

    def digits(self, n: int) -> str:
        return "".join(self.r.choice(string.digits) for _ in range(n))

    def _subscriber(self) -> tuple[str, str, str]:
        imsi = self.mcc + self.mnc + self.digits(10)
        tac = self.r.choice(["35332811", "86891104", "35491511", "01332700"])
        body = tac + self.digits(6)
        imei = body + luhn(body)
        msisdn = "+86" + self.r.choice(["139", "138", "186", "177"]) + self.digits(8)
        return imsi, imei, msisdn

    def subscriber(self) -> tuple[str, str, str]:
        """(IMSI, IMEI, MSISDN) of one of the session's subscribers."""
        return self.r.choice(self.subscribers)

    def uuid(self) -> str:
        h = self.hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{self.r.choice('89ab')}{h[17:20]}-{h[20:]}"

    def call_id(self) -> str:
        """A SIP Call-ID in one of the shapes user agents and SBCs write."""
        kind = self.r.randrange(4)
        if kind == 0:
            return f"{self.hex(16)}@{self.ipv4()}"
        if kind == 1:
            return self.uuid()
        if kind == 2:
            return f"{self.r.randint(1, 99)}-{self.r.randint(1000, 99999)}@{self.ipv4()}"
        return f"SDp{self.hex(10)}-{self.hex(8)}@pcscf{self.r.randint(1, 4)}.{self.realm}"

    def branch(self) -> str:
        return "z9hG4bK" + self.hex(self.r.choice([8, 12, 16]))

    def tag(self) -> str:
        return self.hex(self.r.choice([8, 10]))

    def trace_id(self) -> str:
        return self.hex(32)

    def span_id(self) -> str:
        return self.hex(16)

    def request_id(self) -> str:
        kind = self.r.randrange(3)
        return self.uuid() if kind == 0 else "req_" + self.hex(20) if kind == 1 else self.hex(24)

    def ulid(self) -> str:
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        return "01J" + "".join(self.r.choice(alphabet) for _ in range(23))

    def ipv4(self, prefix: str = "") -> str:
        if prefix:
            return f"{prefix}.{self.r.randint(2, 250)}"
        return f"10.{self.r.randint(0, 63)}.{self.r.randint(0, 255)}.{self.r.randint(2, 250)}"

    def ipv6(self) -> str:
        groups = [f"{self.r.randrange(1, 0xFFFF):x}" for _ in range(self.r.randint(1, 3))]
        return "2001:db8:" + f"{self.r.randrange(0x10, 0xFFF):x}::" + ":".join(groups)

    def mac(self) -> str:
        octets = [self.r.randrange(256) for _ in range(6)]
        octets[0] &= 0xFC
        style = self.r.randrange(3)
        if style == 0:
            return ":".join(f"{o:02x}" for o in octets)
        if style == 1:
            return "-".join(f"{o:02X}" for o in octets)
        h = "".join(f"{o:02x}" for o in octets)
        return f"{h[:4]}.{h[4:8]}.{h[8:]}"

    def interface(self, vendor: str = "") -> str:
        vendor = vendor or self.r.choice(["xr", "junos", "vrp", "nxos", "linux"])
        slot = f"{self.r.randint(0, 7)}/{self.r.randint(0, 3)}/{self.r.randint(0, 3)}/{self.r.randint(0, 35)}"
        if vendor == "xr":
            return self.r.choice(["HundredGigE", "TenGigE", "FourHundredGigE"]) + slot
        if vendor == "junos":
            fpc, pic, port = self.r.randint(0, 11), self.r.randint(0, 3), self.r.randint(0, 47)
            return f"{self.r.choice(['xe', 'et', 'ge'])}-{fpc}/{pic}/{port}"
        if vendor == "vrp":
            return f"{self.r.choice(['100GE', '25GE', 'GE'])}{self.r.randint(1, 8)}/0/{self.r.randint(1, 48)}"
        if vendor == "nxos":
            return f"Ethernet{self.r.randint(1, 8)}/{self.r.randint(1, 54)}"
        return self.r.choice(["ens", "enp"]) + f"{self.r.randint(1, 9)}f{self.r.randint(0, 3)}"

    def bundle(self) -> str:
        return self.r.choice(["Bundle-Ether", "ae", "Eth-Trunk", "Port-channel"]) + str(self.r.randint(1, 120))

    def pod(self, deployment: str) -> str:
        rs = "".join(self.r.choice(_POD_CHARS) for _ in range(self.r.choice([9, 10])))
        return f"{deployment}-{rs}-" + "".join(self.r.choice(_POD_CHARS) for _ in range(5))

    def statefulset_pod(self, name: str) -> str:
        return f"{name}-{self.r.randint(0, 5)}"

    def node(self) -> str:
        return (
            self.r.choice(["wk", "worker", "k8s-w"])
            + f"-{self.r.choice(['az1', 'az2', 'bj3'])}-{self.r.randint(1, 60):02d}"
        )

    def hex_addr(self) -> str:
        return "0x" + self.r.choice(["7f", "c0", "00007f"]) + self.hex(self.r.choice([8, 10]))

    def ticket(self) -> str:
        return self.r.choice(["INC", "CHG", "PRB"]) + f"{self.r.randint(10**6, 10**7 - 1):07d}"

    def jira(self) -> str:
        return f"{self.r.choice(['NOC', 'IMSOPS', 'CORE'])}-{self.r.randint(1000, 29999)}"

    def alarm_id(self) -> str:
        kind = self.r.randrange(3)
        if kind == 0:
            return str(self.r.randint(10**7, 10**8 - 1))
        if kind == 1:
            return f"AL{self.r.randint(10**5, 10**6 - 1)}"
        return f"0x{self.r.randrange(0x08000000, 0x08FFFFFF):08X}"

    def iccid(self) -> str:
        body = "8986" + self.mnc + self.digits(13)
        return body + luhn(body)

    def teid(self) -> str:
        return f"0x{self.r.getrandbits(32):08x}"

    def seid(self) -> str:
        return f"0x{self.r.getrandbits(64):016x}"

    def diameter_session(self, host: str) -> str:
        return f"{host};{self.r.randint(1_700_000_000, 1_799_999_999)};{self.r.randint(1, 99999)}"

    def container_id(self) -> str:
        return self.hex(64)

    def git_sha(self) -> str:
        return self.hex(40)

    def ncgi(self) -> str:
        return f"{self.mcc}{self.mnc}{self.r.getrandbits(36):09x}"

    def guti(self) -> str:
        return f"5g-guti-{self.mcc}{self.mnc}{self.r.randint(1, 255):02x}{self.r.randint(1, 1023):03x}{self.hex(10)}"
