"""The subset of pcap.h pcapy uses, as C text for cffi's ABI mode, grouped by concern.

Declarations follow libpcap's public headers (pcap/pcap.h, pcap/bpf.h). ``struct timeval`` is
not declared here, nor are ``struct pcap_stat`` and ``struct sockaddr``: their layouts differ
between systems, so ``_platform`` supplies them.
Entry points marked OPTIONAL appeared in later libpcap releases or not on every system; the
loader probes them once (``Libpcap.has``) and callers branch on that.

This text is not parsed at run time: ``_generate_ffi`` turns ``declarations(spec)`` into one
pre-parsed module per platform spec (``_ffi_<platform>.py``), which the loader imports. After
changing anything here, run ``python -m pcapy._libpcap._generate_ffi`` and commit its output;
tests/test_ffi_generated.py fails until then.
"""

from __future__ import annotations

from ._platform import PlatformSpec

TYPES = """
typedef struct pcap pcap_t;
typedef struct pcap_dumper pcap_dumper_t;
typedef unsigned int bpf_u_int32;

struct pcap_pkthdr {
    struct timeval ts;
    bpf_u_int32 caplen;
    bpf_u_int32 len;
};

struct bpf_insn {
    unsigned short code;
    unsigned char jt;
    unsigned char jf;
    bpf_u_int32 k;
};

struct bpf_program {
    unsigned int bf_len;
    struct bpf_insn *bf_insns;
};

struct pcap_addr {
    struct pcap_addr *next;
    struct sockaddr *addr;
    struct sockaddr *netmask;
    struct sockaddr *broadaddr;
    struct sockaddr *dstaddr;
};
typedef struct pcap_addr pcap_addr_t;

struct pcap_if {
    struct pcap_if *next;
    char *name;
    char *description;
    struct pcap_addr *addresses;
    bpf_u_int32 flags;
};
typedef struct pcap_if pcap_if_t;
"""

CORE = """
const char *pcap_lib_version(void);
char *pcap_geterr(pcap_t *);
const char *pcap_statustostr(int);
void pcap_close(pcap_t *);
int pcap_datalink(pcap_t *);
int pcap_snapshot(pcap_t *);
const char *pcap_datalink_val_to_name(int);
const char *pcap_datalink_val_to_description(int);
int pcap_datalink_name_to_val(const char *);
"""

FILTERS = """
pcap_t *pcap_open_dead(int, int);
int pcap_compile(pcap_t *, struct bpf_program *, const char *, int, bpf_u_int32);
void pcap_freecode(struct bpf_program *);
int pcap_offline_filter(const struct bpf_program *, const struct pcap_pkthdr *,
                        const unsigned char *);
int pcap_setfilter(pcap_t *, struct bpf_program *);
"""

SAVEFILES = """
pcap_t *pcap_open_offline(const char *, char *);
"""

LIVE = """
pcap_t *pcap_create(const char *, char *);
int pcap_activate(pcap_t *);
int pcap_set_snaplen(pcap_t *, int);
int pcap_set_promisc(pcap_t *, int);
int pcap_set_timeout(pcap_t *, int);
int pcap_set_buffer_size(pcap_t *, int);
int pcap_set_rfmon(pcap_t *, int);
int pcap_can_set_rfmon(pcap_t *);
pcap_t *pcap_open_live(const char *, int, int, int, char *);
int pcap_next_ex(pcap_t *, struct pcap_pkthdr **, const unsigned char **);
void pcap_breakloop(pcap_t *);
int pcap_stats(pcap_t *, struct pcap_stat *);
int pcap_get_selectable_fd(pcap_t *);
int pcap_getnonblock(pcap_t *, char *);
int pcap_setnonblock(pcap_t *, int, char *);
int pcap_setdirection(pcap_t *, int);
int pcap_sendpacket(pcap_t *, const unsigned char *, int);
int pcap_set_datalink(pcap_t *, int);
int pcap_list_datalinks(pcap_t *, int **);
void pcap_free_datalinks(int *);
int pcap_set_tstamp_type(pcap_t *, int);
int pcap_list_tstamp_types(pcap_t *, int **);
void pcap_free_tstamp_types(int *);
const char *pcap_tstamp_type_val_to_name(int);
"""

DEVICES = """
int pcap_findalldevs(pcap_if_t **, char *);
void pcap_freealldevs(pcap_if_t *);
int pcap_lookupnet(const char *, bpf_u_int32 *, bpf_u_int32 *, char *);
"""

# OPTIONAL: newer libpcap (1.5+: precision and immediate mode; 1.9: open_dead precision;
# 1.10: pcap_init), or deprecated ones some builds drop.
OPTIONAL = """
int pcap_set_immediate_mode(pcap_t *, int);
int pcap_set_tstamp_precision(pcap_t *, int);
int pcap_get_tstamp_precision(pcap_t *);
pcap_t *pcap_open_dead_with_tstamp_precision(int, int, unsigned int);
pcap_t *pcap_open_offline_with_tstamp_precision(const char *, unsigned int, char *);
int pcap_init(unsigned int, char *);
char *pcap_lookupdev(char *);
pcap_t *pcap_fopen_offline(FILE *, char *);
pcap_t *pcap_fopen_offline_with_tstamp_precision(FILE *, unsigned int, char *);
"""

OPTIONAL_FUNCTIONS: tuple[str, ...] = (
    "pcap_set_immediate_mode",
    "pcap_set_tstamp_precision",
    "pcap_get_tstamp_precision",
    "pcap_open_dead_with_tstamp_precision",
    "pcap_open_offline_with_tstamp_precision",
    "pcap_init",
    "pcap_lookupdev",
    "pcap_fopen_offline",  # a macro, not a symbol, in Npcap
    "pcap_fopen_offline_with_tstamp_precision",  # (likewise)
)

PCAP_ERRBUF_SIZE = 256

# -- appended for live capture (pcapy._libpcap._handle) ----------------------------------------
# pcap_dispatch and its callback type: only the capture-rate benchmark (bench/live_burst.py)
# uses them, to compare libpcap-driven callbacks with the pcap_next_ex loop _handle runs.
LIVE += """
typedef void (*pcap_handler)(unsigned char *, const struct pcap_pkthdr *, const unsigned char *);
int pcap_dispatch(pcap_t *, int, pcap_handler, unsigned char *);
"""

# pcap_get_required_select_timeout (libpcap 1.9+, not on Windows): how long a poll() on the
# selectable descriptor may last before libpcap must be called again. pcap_getevent (Npcap,
# Windows only): the event a capture signals when packets arrive; WaitForSingleObject is not a
# libpcap function, nor is SetEvent: they are declared here for the kernel32.dll that _handle
# opens on Windows (WINAPI is __stdcall on 32-bit Windows and ignored elsewhere).
OPTIONAL += """
const struct timeval *pcap_get_required_select_timeout(pcap_t *);
void *pcap_getevent(pcap_t *);
unsigned long WINAPI WaitForSingleObject(void *, unsigned long);
int WINAPI SetEvent(void *);
"""

OPTIONAL_FUNCTIONS += (
    "pcap_get_required_select_timeout",
    "pcap_getevent",
)

# -- appended for filtered savefile reading (pcapy._libpcap._memdump) --------------------------
# libpcap reads and filters a savefile in C and pcap_dump() writes the matching records into an
# in-memory stream (the C library's open_memstream), which pcapy parses. FILE is opaque here.
SAVEFILE_FILTER = """
typedef struct pcapy_stdio_file FILE;
pcap_dumper_t *pcap_dump_fopen(pcap_t *, FILE *);
void pcap_dump(unsigned char *, const struct pcap_pkthdr *, const unsigned char *);
int pcap_dump_flush(pcap_dumper_t *);
void pcap_dump_close(pcap_dumper_t *);
FILE *pcap_file(pcap_t *);
FILE *pcap_dump_file(pcap_dumper_t *);
"""

# From the C library, not libpcap (POSIX 2008; absent on Windows, where filtering stays in
# Python).
C_LIBRARY = """
FILE *open_memstream(char **, size_t *);
FILE *fmemopen(void *, size_t, const char *);
FILE *fdopen(int, const char *);
int fseek(FILE *, long, int);
long ftell(FILE *);
int fclose(FILE *);
void free(void *);
int setvbuf(FILE *, char *, int, size_t);
"""


def declarations(spec: PlatformSpec) -> str:
    """All of the above with ``spec``'s structs first, as one text for ``cffi.FFI.cdef``.

    The single source of both the generated modules and the loader's in-line fallback, so the
    two cannot declare different things.
    """
    groups = (
        spec.timeval, spec.pcap_stat, spec.sockaddr, TYPES, CORE, FILTERS, SAVEFILES, LIVE,
        DEVICES, SAVEFILE_FILTER, C_LIBRARY, OPTIONAL,
    )
    return "\n".join(groups)
