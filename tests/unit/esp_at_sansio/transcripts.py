"""Module output transcripts from shared/reference/esp_at.md (sections 1-3 and 8), with the events they mean."""

from __future__ import annotations

from dataclasses import dataclass

from netsocket.drivers.esp_at import parser as p

OK = p.Result("OK")
ERROR = p.Result("ERROR")


@dataclass(frozen=True)
class Transcript:
    name: str
    wire: bytes
    events: list[p.Event]
    recvdata_addr: bool = False


def L(text: bytes) -> p.Line:
    return p.Line(text)


TRANSCRIPTS: list[Transcript] = [
    Transcript(
        "nonos_gmr_no_blank_line",
        b"AT+GMR\r\r\nAT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\n"
        b"compile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\nOK\r\n",
        [
            L(b"AT+GMR"),
            L(b"AT version:1.7.4.0(May 11 2020 19:13:04)"),
            L(b"SDK version:3.0.4(9532ceb)"),
            L(b"compile time:May 27 2020 10:12:17"),
            L(b"Bin version(Wroom 02):1.7.4"),
            OK,
        ],
    ),
    Transcript(
        "espat_gmr",
        b"AT version:2.2.0.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)\r\nSDK version:v3.4-22-g967752e2\r\n"
        b"compile time(6800286):Aug  4 2021 17:20:05\r\nBin version:2.2.0(ESP8266_1MB)\r\n\r\nOK\r\n",
        [
            L(b"AT version:2.2.0.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)"),
            L(b"SDK version:v3.4-22-g967752e2"),
            L(b"compile time(6800286):Aug  4 2021 17:20:05"),
            L(b"Bin version:2.2.0(ESP8266_1MB)"),
            OK,
        ],
    ),
    Transcript(
        "espat_send_with_ipd_inside",
        b'\r\nOK\r\n\r\n>\r\n+IPD,1,4,"10.0.0.2",8080:ping\r\nRecv 8 bytes\r\n\r\n+IPD,1,2:ok\r\nSEND OK\r\n',
        [
            OK,
            p.Prompt(),
            p.IpdData(1, b"ping", "10.0.0.2", 8080),
            p.RecvBytes(8),
            p.IpdData(1, b"ok"),
            p.Result("SEND OK"),
        ],
    ),
    Transcript(
        "nonos_prompt_with_space_and_unquoted_ip",
        b"\r\nOK\r\n> \r\n+IPD,0,3,192.168.1.5,333:abc\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n",
        [OK, p.Prompt(), p.IpdData(0, b"abc", "192.168.1.5", 333), p.RecvBytes(4), p.Result("SEND OK")],
    ),
    Transcript(
        "esp32_send_echo_trace",
        b"AT+CIPSEND=0,8\r\n\r\nOK\r\n\r\n>",
        [L(b"AT+CIPSEND=0,8"), OK, p.Prompt()],
    ),
    Transcript(
        "single_link_ipd_forms",
        b'\r\n+IPD,5:hello\r\n+IPD,2,"1.2.3.4",7:hi\r\n+IPD,4\r\n+IPD,3,900\r\n',
        [p.IpdData(None, b"hello"), p.IpdData(None, b"hi", "1.2.3.4", 7), p.IpdNotice(None, 4), p.IpdNotice(3, 900)],
    ),
    Transcript(
        "passive_notice_five_digits",
        b"\r\n+IPD,0,123456\r\n",
        [p.IpdNotice(0, 123456)],
    ),
    Transcript(
        "closed_right_after_data",
        b'\r\n+IPD,0,13:{"a":[1,2,3]}0,CLOSED\r\n',
        [p.IpdData(0, b'{"a":[1,2,3]}'), p.LinkEvent(0, "CLOSED")],
    ),
    Transcript(
        "nonos_recvdata",
        b"\r\n+CIPRECVDATA,5:a\r\nbc\r\nOK\r\n",
        [p.RecvData(b"a\r\nbc"), OK],
    ),
    Transcript(
        "espat_recvdata_with_addr",
        b'+CIPRECVDATA:4,"185.10.10.10",80,te,t\r\nOK\r\n',
        [p.RecvData(b"te,t", "185.10.10.10", 80), OK],
        recvdata_addr=True,
    ),
    Transcript(
        "espat_recvdata_plain_and_debug_leak",
        b"to read 4 bytes\r\n+CIPRECVDATA:4,test\r\nOK\r\n",
        [L(b"to read 4 bytes"), p.RecvData(b"test"), OK],
    ),
    Transcript(
        "recvlen_and_ipd_interleaved",
        b"+CIPRECVLEN:-1,-1,-1,-1,424\r\n\r\n+IPD,4,500\r\n\r\nOK\r\n",
        [L(b"+CIPRECVLEN:-1,-1,-1,-1,424"), p.IpdNotice(4, 500), OK],
    ),
    Transcript(
        "busy_forms",
        b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n\r\nbusy s...\r\n\r\nbusy s...\r\n\r\nSEND OK\r\n\r\nOK\r\n",
        [L(b"ERR CODE:0x010b0000"), p.Busy("p"), p.Busy("s"), p.Busy("s"), p.Result("SEND OK"), OK],
    ),
    Transcript(
        "cwjap_failures",
        b"WIFI CONNECTED\r\n+CWJAP:1\r\n\r\nFAIL\r\nWIFI DISCONNECT\r\n+CWJAP:3\r\n\r\nERROR\r\n",
        [p.WifiEvent("CONNECTED"), L(b"+CWJAP:1"), p.Result("FAIL"), p.WifiEvent("DISCONNECT"), L(b"+CWJAP:3"), ERROR],
    ),
    Transcript(
        "cwjap_success",
        b"WIFI DISCONNECT\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
        [p.WifiEvent("DISCONNECT"), p.WifiEvent("CONNECTED"), p.WifiEvent("GOT IP"), OK],
    ),
    Transcript(
        "cipstart_failure_then_closed",
        b"\r\nERROR\r\n0,CLOSED\r\nALREADY CONNECTED\r\n\r\nERROR\r\n1,CONNECT FAIL\r\nCONNECT\r\nCLOSED\r\n",
        [
            ERROR,
            p.LinkEvent(0, "CLOSED"),
            L(b"ALREADY CONNECTED"),
            ERROR,
            p.LinkEvent(1, "CONNECT FAIL"),
            p.LinkEvent(None, "CONNECT"),
            p.LinkEvent(None, "CLOSED"),
        ],
    ),
    Transcript(
        "urc_inside_echo",
        b"AT+CIPSEND=0,1,CONNECT\n98\r\n\r\nOK\r\n\r\n>",
        [L(b"AT+CIPSEND=0,1,CONNECT"), L(b"98"), OK, p.Prompt()],
    ),
    Transcript(
        "nonos_boot_after_rst",
        b"\r\nOK\r\nWIFI DISCONNECT\r\n\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n"
        b"\r\nload 0x40100000, len 2408, room 16 \r\n\x8f\xd3\x00l\x9c\xfe\r\n"
        b"2nd boot version : 1.7(5d6f877)\r\n\r\nready\r\n",
        [
            OK,
            p.WifiEvent("DISCONNECT"),
            L(b" ets Jan  8 2013,rst cause:2, boot mode:(3,6)"),
            L(b"load 0x40100000, len 2408, room 16 "),
            L(b"\x8f\xd3\x00l\x9c\xfe"),
            L(b"2nd boot version : 1.7(5d6f877)"),
            p.Ready(),
        ],
    ),
    Transcript(
        "ai_thinker_invalid_instead_of_ready",
        b"MEM CHECK FAIL!!!\r\n\r\ninvalid\r\n",
        [L(b"MEM CHECK FAIL!!!"), L(b"invalid")],
    ),
    Transcript(
        "cipclose_unlink",
        b"UNLINK\r\n\r\nERROR\r\n\r\nno change\r\n\r\nOK\r\n",
        [L(b"UNLINK"), ERROR, L(b"no change"), OK],
    ),
    Transcript(
        "send_fail_then_send_ok",
        b"\r\nRecv 10 bytes\r\n\r\nSEND FAIL\r\n\r\nSEND OK\r\n\r\nSEND Canceled\r\n",
        [p.RecvBytes(10), p.Result("SEND FAIL"), p.Result("SEND OK"), p.Result("SEND CANCELED")],
    ),
    Transcript(
        "queries",
        b'+CIPSTA:ip:"192.168.1.23"\r\n+CIPSTA:gateway:"192.168.1.1"\r\n+CIPSTA:netmask:"255.255.255.0"\r\n\r\nOK\r\n'
        b'+CWLAP:(3,"My,\\"AP",-52,"aa:bb:cc:dd:ee:ff",6,-1,-1,4,4,7,0)\r\n\r\nOK\r\n'
        b'+CIPDOMAIN:"93.184.216.34"\r\n\r\nOK\r\n+CIPDOMAIN:93.184.216.34\r\nDNS Fail\r\n\r\nERROR\r\n',
        [
            L(b'+CIPSTA:ip:"192.168.1.23"'),
            L(b'+CIPSTA:gateway:"192.168.1.1"'),
            L(b'+CIPSTA:netmask:"255.255.255.0"'),
            OK,
            L(b'+CWLAP:(3,"My,\\"AP",-52,"aa:bb:cc:dd:ee:ff",6,-1,-1,4,4,7,0)'),
            OK,
            L(b'+CIPDOMAIN:"93.184.216.34"'),
            OK,
            L(b"+CIPDOMAIN:93.184.216.34"),
            L(b"DNS Fail"),
            ERROR,
        ],
    ),
    Transcript(
        "softap_and_misc_urcs",
        b'+STA_CONNECTED:"aa:bb:cc:dd:ee:ff"\r\n+LINK_CONN:0,2,"TCP",1,"192.168.4.2",5000,333\r\n+TIME_UPDATED\r\n'
        b'+DIST_STA_IP:"aa:bb:cc:dd:ee:ff","192.168.4.2"\r\n+STA_DISCONNECTED:"aa:bb:cc:dd:ee:ff"\r\n'
        b"WIFI GOT IPv6 LL\r\nready\r\n",
        [
            p.StationEvent("CONNECTED", "aa:bb:cc:dd:ee:ff"),
            L(b'+LINK_CONN:0,2,"TCP",1,"192.168.4.2",5000,333'),
            L(b"+TIME_UPDATED"),
            p.StationEvent("GOT IP", "aa:bb:cc:dd:ee:ff", "192.168.4.2"),
            p.StationEvent("DISCONNECTED", "aa:bb:cc:dd:ee:ff"),
            p.WifiEvent("GOT IPv6 LL"),
            p.Ready(),
        ],
    ),
    Transcript(
        "quoted_ipv6_sender",
        b'\r\n+IPD,0,2,"fe80::1",5683:hi',
        [p.IpdData(0, b"hi", "fe80::1", 5683)],
    ),
    # IPv6 on ESP-AT 3.x (reference §2.3, §3.11, §3.13): the join's OK then its IPv6 notices, a TCPv6 link, a
    # full-length upper-case IPv6 sender whose colons and ':' data separator must not be confused, the passive
    # notice and read of a UDPv6 link with AT+CIPDINFO=1.
    Transcript(
        "espat_ipv6_join_and_links",
        b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\nWIFI GOT IPv6 LL\r\nWIFI GOT IPv6 GL\r\n"
        b'+CIPSTA:ip6ll:"FE80::5ECF:7FFF:FE01:203"\r\n+CIPSTA:ip6gl:"2001:DB8:42::23"\r\n\r\nOK\r\n'
        b"0,CONNECT\r\n\r\nOK\r\n"
        b'\r\n+IPD,1,5,"2001:0DB8:0000:0000:0000:FF00:0042:8329",65535:a:b:c'
        b'\r\n+IPD,2,4,"::1",53:\r\n::'
        b"\r\n+IPD,3,12\r\n"
        b'+CIPRECVDATA:12,"::FFFF:127.0.0.1",5353,"::1",53:x,y\r\nOK\r\n',
        [
            p.WifiEvent("CONNECTED"),
            p.WifiEvent("GOT IP"),
            OK,
            p.WifiEvent("GOT IPv6 LL"),
            p.WifiEvent("GOT IPv6 GL"),
            L(b'+CIPSTA:ip6ll:"FE80::5ECF:7FFF:FE01:203"'),
            L(b'+CIPSTA:ip6gl:"2001:DB8:42::23"'),
            OK,
            p.LinkEvent(0, "CONNECT"),
            OK,
            p.IpdData(1, b"a:b:c", "2001:0DB8:0000:0000:0000:FF00:0042:8329", 65535),
            p.IpdData(2, b"\r\n::", "::1", 53),
            p.IpdNotice(3, 12),
            p.RecvData(b'"::1",53:x,y', "::FFFF:127.0.0.1", 5353),
            OK,
        ],
        recvdata_addr=True,
    ),
]
