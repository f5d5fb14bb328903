"""Firmware profiles of the emulated ESP-AT module, as data.

Layer: pure data (no I/O). Every difference between the three firmware families that the device model needs is
a field here, so the model reads a table instead of testing the profile name. Wire strings are copied from
`shared/reference/esp_at.md` (sections 1.4, 2, 3 and 8); where the reference is unsure, the field's comment
says which choice was made.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Commands every profile has (names without the ``AT+`` prefix; ``AT`` and ``ATE`` are handled apart).
_COMMON_COMMANDS = frozenset(
    {
        "RST",
        "RESTORE",
        "GMR",
        "UART_CUR",
        "UART_DEF",
        "CWMODE",
        "CWJAP",
        "CWQAP",
        "CWLAP",
        "CWLAPOPT",
        "CWAUTOCONN",
        "CWHOSTNAME",
        "CIFSR",
        "CIPMUX",
        "CIPMODE",
        "CIPSTART",
        "CIPSEND",
        "CIPSENDEX",
        "CIPCLOSE",
        "CIPSTATUS",
        "CIPSERVER",
        "CIPSERVERMAXCONN",
        "CIPSTO",
        "CIPDOMAIN",
        "CIPDINFO",
        "CIPRECVMODE",
        "CIPRECVDATA",
        "CIPRECVLEN",
        "PING",
        "CIPSNTPCFG",
        "CIPSNTPTIME",
        # Module features every family has (Espressif's AT_Command_Set_Comparison: NONOS-AT and ESP-AT both).
        "CWLIF",
        "SLEEP",
        "GSLP",
        "MDNS",
    }
)

#: ESP-AT names that NonOS only knows with a ``_CUR``/``_DEF`` suffix (reference §4.1).
_CUR_DEF_FAMILY = ("CWMODE", "CWJAP", "CIPSTA", "CIPSTAMAC", "CIPDNS", "SYSMSG", "CWDHCP", "CWSAP")


def _nonos_commands() -> frozenset[str]:
    names = set(_COMMON_COMMANDS) | {"CIPSSLSIZE", "CIPCLOSEMODE", "CIPSENDBUF", "CIPSSLCCONF", "CWDHCP"}
    for base in _CUR_DEF_FAMILY:
        names.add(base + "_CUR")
        names.add(base + "_DEF")
    # The plain CWMODE/CWJAP forms still exist on NonOS (they save to flash); plain CIPSTA etc. too.
    names |= {"CIPSTA", "CIPSTAMAC"}
    return frozenset(names)


def _espat_commands(*extra: str) -> frozenset[str]:
    base = set(_COMMON_COMMANDS) | {
        "SYSMSG",
        "SYSSTORE",
        "SYSLOG",
        "CWSTATE",
        "CIPSTATE",
        "CIPSTA",
        "CIPSTAMAC",
        "CIPDNS",
        "CWDHCP",
        "CIPSSLCCONF",
        "CIPSSLCSNI",
        "CIPSTARTEX",
        "CWSAP",
        "CWQIF",
    }
    return frozenset(base | set(extra))


@dataclass(frozen=True)
class Profile:
    """Everything that differs between firmware families, as values the device model looks up."""

    name: str
    family: str  # "nonos" or "espat"
    chip: str  # "ESP8266" or "ESP32"
    gmr_lines: tuple[bytes, ...]
    #: NonOS prints ``...1.7.4\r\nOK\r\n`` (no blank line); ESP-AT ``...)\r\n\r\nOK\r\n`` (reference §8.1).
    gmr_final: bytes
    commands: frozenset[str]
    #: NonOS echoes ``AT\r\n`` as ``AT\r\r\n`` (reference §8.2).
    echo_cr_twice: bool
    prompt: bytes
    busy_s: bool
    lowercase_at_accepted: bool
    max_command_len: int
    max_send_len: int
    ipd_max_chunk: int
    ipd_ip_quoted: bool
    cwjap_failure_final: bytes
    recvdata_header: str  # a %-format taking (length,) or, with CIPDINFO on ESP-AT, handled by the model
    recvdata_leading_crlf: bool
    recvdata_has_dinfo: bool
    recvlen_inactive: int
    passive_udp: bool
    passive_ssl: bool
    closed_held_in_passive: bool
    cipdomain_quoted: bool
    ping_ok: str  # %-format taking the milliseconds
    ping_fail: bytes
    dns_fail_text: bytes  # free text before ERROR on a DNS failure, b"" when there is none
    unlink_text: bytes  # free text before ERROR when closing a closed link
    bad_id_text: bytes
    bad_type_text: bytes
    time_updated_urc: bool
    cipdinfo_query: bool
    ciprecvtype: bool
    ssl_max_links: int
    uart_rx_buffer: int
    uart_clock_hz: int
    uart_divider_frac_bits: int
    #: ESP-AT 2.2 reports CIPSTATUS 0/1 before any join; NonOS only knows 2..5.
    cipstatus_idle: int
    #: Only NonOS prints ROM and second-stage boot text on the AT port after a reset (reference §1.8).
    boot_text: bytes
    #: NonOS prints ``WIFI DISCONNECT`` right after the OK of AT+RST when it was joined (reference §1.8).
    wifi_disconnect_on_rst: bool
    #: On NonOS the SEND OK waits for the TCP ACK (about one RTT), on ESP-AT it follows at once (item 12).
    send_ok_after_ack: bool
    cwjap_query_tail: str  # what follows ``"ssid","bssid",ch,rssi`` in the CWJAP query
    sntp_min_tz: int
    sntp_max_tz: int
    syslog_available: bool
    cwmode_zero_allowed: bool
    uart_max_baud: int
    sysmsg_max: int
    #: NonOS answers ``AT+CWMODE_CUR=?`` with the range; ESP-AT has no test form.
    cwmode_test_form: bool
    cwmode_max_params: int
    #: ESP-AT's plain ``AT+CWJAP`` reconnects with the stored AP; NonOS has no execute form.
    cwjap_execute_reconnects: bool
    #: ESP-AT stores a join only when AT+SYSSTORE=1; NonOS's plain/_DEF forms always store.
    join_store_follows_sysstore: bool
    #: NonOS's first CWLAPOPT parameter sorts by RSSI; ESP-AT's is "reserved" and it takes two filters more.
    cwlapopt_sorts: bool
    cwlapopt_max_params: int
    #: ESP-AT keeps reconnecting after a Wi-Fi loss (reference §2.3); NonOS waits for the host.
    reconnects_after_loss: bool
    #: NonOS has been seen printing SEND FAIL followed by SEND OK for one send (reference §1.6).
    send_fail_then_ok: bool
    #: Text a spontaneous crash prints before the boot output (checklist item 33).
    crash_text: bytes
    #: NonOS AT+CIPDNS_CUR? prints one line per server; ESP-AT one line with the state and a quoted list.
    cipdns_one_line_per_server: bool
    cipdns_max_servers: int
    #: ESP-AT also takes an SNTP time zone as [+|-]hhmm.
    sntp_hhmm_tz: bool
    cipmode_mux_text: bytes
    #: ESP-AT answers the AT+CIPSERVER? and AT+CIPSSLCCONF? queries.
    cipserver_query: bool
    sslcconf_query: bool
    #: AT+CIPSERVER=0 with no server: NonOS `no change` then OK (reference §8.11); None means ERROR.
    cipserver_stop_idle_text: bytes | None
    # ---- module features (issue 13); each value names its source in docs/esp_emulator.md's feature matrix
    #: ``+STA_CONNECTED``/``+DIST_STA_IP``/``+STA_DISCONNECTED`` when a station joins or leaves the SoftAP (§2.4).
    softap_urcs: bool
    #: What starts each AT+CWLIF line: ESP-AT prints ``+CWLIF:<ip>,<mac>``, NonOS ``<ip>,<mac>``.
    cwlif_prefix: str
    #: AT+CWSAP ``<max conn>`` upper bound, also the default.
    softap_max_conn: int
    #: AT+CWSAP ``<ecn>`` values accepted (WEP never is).
    softap_securities: frozenset[int]
    #: AT+CWLAP ``<ecn>`` values this firmware knows; an AP with another security is invisible and unjoinable,
    #: except through `security_fallback`.
    scan_securities: frozenset[int]
    #: (world security, shown as): a WPA2/WPA3 transition-mode AP is a WPA2 AP to firmware without WPA3.
    security_fallback: tuple[tuple[int, int], ...]
    #: AT+SLEEP values (NonOS 1 light / 2 modem; ESP-AT 1 modem DTIM / 2 light / 3 modem listen interval, §3.26).
    sleep_modes: frozenset[int]
    #: (set, queried): ESP-AT 2.2 answers ``+SLEEP:3`` after AT+SLEEP=2 (§3.26).
    sleep_query_alias: tuple[tuple[int, int], ...]
    #: AT+GSLP=0 restarts at once (ESP32 docs); on ESP8266 it sleeps until an external reset.
    gslp_zero_restarts: bool
    #: AT+MDNS parameters: NonOS and 2.x take ``<enable>[,"host","service",port]``; 3.x adds instance, proto, TXT.
    mdns_extended: bool
    #: AT+CIPSSLCCONF: ESP-AT ``[<link>,]<auth>[,<pki>][,<ca>]`` per link; NonOS one global ``<mode>``.
    sslcconf_per_link: bool
    #: IPv6 (AT+CIPV6, TCPv6/UDPv6/SSLv6, ip6 lines in AT+CIPSTA?, AAAA in AT+CIPDOMAIN): ESP32 3.x profile only.
    ipv6: bool
    #: AT+CIPDOMAIN parameter count (3.x: ``,<ip network>``; 4.x/5.x add two more, not emulated).
    cipdomain_max_params: int


_NONOS_BOOT = (
    b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n\r\n"
    b"load 0x40100000, len 2592, room 16 \r\n"
    b"tail 0\r\nchksum 0xf3\r\nload 0x3ffe8000, len 764, room 8 \r\ntail 4\r\nchksum 0x92\r\n"
    b"load 0x3ffe82fc, len 676, room 4 \r\ntail 0\r\nchksum 0x22\r\ncsum 0x22\r\n\r\n"
    b"2nd boot version : 1.7(5d6f877)\r\n  SPI Speed      : 40MHz\r\n  SPI Mode       : DIO\r\n"
    b"  SPI Flash Size & Map: 8Mbit(512KB+512KB)\r\njump to run user1 @ 1000\r\n\r\n"
)

NONOS17 = Profile(
    name="nonos17",
    family="nonos",
    chip="ESP8266",
    gmr_lines=(
        b"AT version:1.7.4.0(May 11 2020 19:13:04)",
        b"SDK version:3.0.4(9532ceb)",
        b"compile time:May 27 2020 10:12:17",
        b"Bin version(Wroom 02):1.7.4",
    ),
    gmr_final=b"OK\r\n",
    commands=_nonos_commands(),
    echo_cr_twice=True,
    prompt=b"\r\nOK\r\n> ",
    busy_s=True,
    lowercase_at_accepted=True,
    max_command_len=128,
    max_send_len=2048,
    ipd_max_chunk=1460,
    ipd_ip_quoted=False,
    cwjap_failure_final=b"\r\nFAIL\r\n",
    recvdata_header="\r\n+CIPRECVDATA,%d:",
    recvdata_leading_crlf=True,
    recvdata_has_dinfo=False,
    recvlen_inactive=0,
    passive_udp=False,
    passive_ssl=False,
    closed_held_in_passive=False,
    cipdomain_quoted=False,
    ping_ok="+%d",
    ping_fail=b"+timeout\r\n",
    dns_fail_text=b"DNS Fail\r\n",
    unlink_text=b"UNLINK\r\n",
    bad_id_text=b"ID ERROR\r\n",
    bad_type_text=b"Link type ERROR\r\n",
    time_updated_urc=False,
    cipdinfo_query=False,
    ciprecvtype=False,
    ssl_max_links=1,
    uart_rx_buffer=1024,
    uart_clock_hz=80_000_000,
    uart_divider_frac_bits=0,
    cipstatus_idle=5,
    boot_text=_NONOS_BOOT,
    wifi_disconnect_on_rst=True,
    send_ok_after_ack=True,
    # The reference says the 1.7 library prints one more integer after rssi without naming it; 0 is a guess.
    cwjap_query_tail=",0",
    sntp_min_tz=-11,
    sntp_max_tz=13,
    syslog_available=False,
    cwmode_zero_allowed=False,
    uart_max_baud=4_608_000,
    sysmsg_max=3,
    cwmode_test_form=True,
    cwmode_max_params=1,
    cwjap_execute_reconnects=False,
    join_store_follows_sysstore=False,
    cwlapopt_sorts=True,
    cwlapopt_max_params=2,
    reconnects_after_loss=False,
    send_fail_then_ok=True,
    crash_text=b"\r\nSoft WDT reset\r\n",
    cipdns_one_line_per_server=True,
    cipdns_max_servers=2,
    sntp_hhmm_tz=False,
    cipmode_mux_text=b"CIPMUX and CIPSERVER must be 0\r\n",
    cipserver_query=False,
    sslcconf_query=False,
    cipserver_stop_idle_text=b"no change\r\n",
    softap_urcs=False,
    cwlif_prefix="",
    softap_max_conn=4,
    softap_securities=frozenset({0, 2, 3, 4}),
    scan_securities=frozenset({0, 1, 2, 3, 4}),
    security_fallback=((7, 3),),
    sleep_modes=frozenset({0, 1, 2}),
    sleep_query_alias=(),
    gslp_zero_restarts=False,
    mdns_extended=False,
    sslcconf_per_link=False,
    ipv6=False,
    cipdomain_max_params=1,
)

AT22_8266 = Profile(
    name="at22_8266",
    family="espat",
    chip="ESP8266",
    gmr_lines=(
        b"AT version:2.2.0.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)",
        b"SDK version:v3.4-22-g967752e2",
        b"compile time(6800286):Aug  4 2021 17:20:05",
        b"Bin version:2.2.0(ESP8266_1MB)",
    ),
    gmr_final=b"\r\nOK\r\n",
    commands=_espat_commands(),
    echo_cr_twice=False,
    prompt=b"\r\nOK\r\n\r\n>",
    busy_s=False,
    lowercase_at_accepted=False,
    max_command_len=256,
    max_send_len=2048,
    ipd_max_chunk=1460,
    ipd_ip_quoted=True,
    cwjap_failure_final=b"\r\nERROR\r\n",
    recvdata_header="+CIPRECVDATA:%d,",
    recvdata_leading_crlf=False,
    recvdata_has_dinfo=True,
    recvlen_inactive=-1,
    passive_udp=True,
    passive_ssl=True,
    closed_held_in_passive=True,
    cipdomain_quoted=True,
    ping_ok="+PING:%d",
    ping_fail=b"+PING:TIMEOUT\r\n",
    dns_fail_text=b"",
    unlink_text=b"",
    bad_id_text=b"",
    bad_type_text=b"",
    time_updated_urc=False,
    cipdinfo_query=False,
    ciprecvtype=False,
    ssl_max_links=1,
    uart_rx_buffer=1024,
    uart_clock_hz=80_000_000,
    uart_divider_frac_bits=0,
    cipstatus_idle=1,
    boot_text=b"",
    wifi_disconnect_on_rst=False,
    send_ok_after_ack=False,
    cwjap_query_tail=",0,1,3,0,0",
    sntp_min_tz=-12,
    sntp_max_tz=14,
    syslog_available=True,
    cwmode_zero_allowed=True,
    uart_max_baud=4_500_000,
    sysmsg_max=7,
    cwmode_test_form=False,
    cwmode_max_params=2,
    cwjap_execute_reconnects=True,
    join_store_follows_sysstore=True,
    cwlapopt_sorts=False,
    cwlapopt_max_params=4,
    reconnects_after_loss=True,
    send_fail_then_ok=False,
    crash_text=b"",
    cipdns_one_line_per_server=False,
    cipdns_max_servers=3,
    sntp_hhmm_tz=True,
    cipmode_mux_text=b"",
    cipserver_query=True,
    sslcconf_query=True,
    # The reference does not say; ESP-AT is taken to reject stopping a server that does not run.
    cipserver_stop_idle_text=None,
    softap_urcs=True,
    cwlif_prefix="+CWLIF:",
    softap_max_conn=8,
    softap_securities=frozenset({0, 2, 3, 4}),
    scan_securities=frozenset({0, 1, 2, 3, 4, 5}),
    security_fallback=((7, 3),),
    sleep_modes=frozenset({0, 1, 2, 3}),
    sleep_query_alias=((2, 3),),
    gslp_zero_restarts=False,
    mdns_extended=False,
    sslcconf_per_link=True,
    ipv6=False,
    cipdomain_max_params=1,
)

AT3_ESP32 = Profile(
    name="at3_esp32",
    family="espat",
    chip="ESP32",
    # The reference's only 3.x block is from an ESP32-C3 build; it is used verbatim.
    gmr_lines=(
        b"AT version:3.3.0.0(3b13d04 - ESP32C3 - May  8 2024 08:21:54)",
        b"SDK version:v5.0.6-dirty",
        b"compile time(be332568):May  8 2024 08:51:33",
        b"Bin version:v3.3.0.0(MINI-1)",
    ),
    gmr_final=b"\r\nOK\r\n",
    commands=_espat_commands("CIPRECVTYPE", "CIPSENDL", "CIPV6", "CWJEAP"),
    echo_cr_twice=False,
    prompt=b"\r\nOK\r\n\r\n>",
    busy_s=False,
    lowercase_at_accepted=False,
    max_command_len=256,
    max_send_len=8192,
    ipd_max_chunk=2920,
    ipd_ip_quoted=True,
    cwjap_failure_final=b"\r\nERROR\r\n",
    recvdata_header="+CIPRECVDATA:%d,",
    recvdata_leading_crlf=False,
    recvdata_has_dinfo=True,
    recvlen_inactive=-1,
    passive_udp=True,
    passive_ssl=True,
    closed_held_in_passive=True,
    cipdomain_quoted=True,
    ping_ok="+PING:%d",
    ping_fail=b"+PING:TIMEOUT\r\n",
    dns_fail_text=b"",
    unlink_text=b"",
    bad_id_text=b"",
    bad_type_text=b"",
    time_updated_urc=True,
    cipdinfo_query=True,
    ciprecvtype=True,
    ssl_max_links=5,
    uart_rx_buffer=2048,
    uart_clock_hz=80_000_000,
    uart_divider_frac_bits=4,
    cipstatus_idle=1,
    boot_text=b"",
    wifi_disconnect_on_rst=False,
    send_ok_after_ack=False,
    cwjap_query_tail=",0,1,3,0,1",
    sntp_min_tz=-12,
    sntp_max_tz=14,
    syslog_available=True,
    cwmode_zero_allowed=True,
    uart_max_baud=5_000_000,
    sysmsg_max=7,
    cwmode_test_form=False,
    cwmode_max_params=2,
    cwjap_execute_reconnects=True,
    join_store_follows_sysstore=True,
    cwlapopt_sorts=False,
    cwlapopt_max_params=4,
    reconnects_after_loss=True,
    send_fail_then_ok=False,
    crash_text=b"",
    cipdns_one_line_per_server=False,
    cipdns_max_servers=3,
    sntp_hhmm_tz=True,
    cipmode_mux_text=b"",
    cipserver_query=True,
    sslcconf_query=True,
    # The reference does not say; ESP-AT is taken to reject stopping a server that does not run.
    cipserver_stop_idle_text=None,
    softap_urcs=True,
    cwlif_prefix="+CWLIF:",
    softap_max_conn=10,
    softap_securities=frozenset({0, 2, 3, 4}),
    scan_securities=frozenset({0, 1, 2, 3, 4, 5, 6, 7}),
    security_fallback=(),
    sleep_modes=frozenset({0, 1, 2, 3}),
    sleep_query_alias=(),
    gslp_zero_restarts=True,
    mdns_extended=True,
    sslcconf_per_link=True,
    ipv6=True,
    cipdomain_max_params=2,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (NONOS17, AT22_8266, AT3_ESP32)}
DEFAULT_PROFILE = "at22_8266"


def get_profile(name: str) -> Profile:
    """Return the profile called `name`, or raise ValueError listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown ESP-AT profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
