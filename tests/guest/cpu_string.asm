; cpu_string -- MOVS STOS LODS CMPS SCAS, bare and with REP / REPE / REPNE, byte to qword,
; DF = 0 and 1, 64- and 32-bit address size (67 prefix: ESI EDI ECX, with garbage above bit
; 31 that the CPU must ignore and clear), counts 0 1 2 3 7 8 16 33 100 130, at CPL3 in long
; mode, table driven (lib/oracle.inc). Before each case the source and destination buffers
; get a fixed pattern in which the destination differs from the source at a few places (so
; that REPE/REPNE stop early); after it RAX RCX RSI RDI, the six arithmetic flags and both
; buffers (2 x 2 x 1056 bytes around the pointers) fold into the group's hash. Also overlapping MOVSB
; (RDI = RSI + 1, the classic forward fill) and the fast-string sizes.
; Expected lines: from a run under -accel kvm on this host (kvm_pvm: CPL3 runs natively on
; the Intel CPU, so these are the hardware's answers); tcg must print the same.
; Hardware detail: a32 REP with ECX = 0 runs no iteration yet clears bits 63:32 of RCX, RSI
; and RDI (QEMU's TCG leaves them: the expect-qemu line).
; boot: multiboot
; expect-exit: 33
; expect: string a64: 2795564A
; expect: string a32: E165D74F
; expect-qemu: string a32: 0479AFFE
; expect: string overlap: 2D4CF331
; expect: cases=13728 faults=0
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
%include "oracle.inc"

bits 64

WINDOW equ 0x420                        ; bytes folded on each side of a pointer's start

str_counts:
    dq 10, 0, 1, 2, 3, 7, 8, 16, 33, 100, 130
str_counts32:                           ; ECX counts with bits above 31 (a32 ignores them)
    dq 6, 0xffffffff00000000, 0x100000001, 0x7fffffff00000003, 0x8000000000000010, 33, 0x1234567800000064
str_values:                             ; RAX for STOS / SCAS
    dq 4, 0, 0x6a, 0x4142434445464748, -1
str_flags:                              ; DF 0/1, arithmetic flags clear/set
    dq 4, 0x002, 0x402, 0x8d7, 0xcd7

; pattern: source byte i = (i * 13 + 7) mod 256; the destination has the same bytes except
; every 61st, which is inverted. Pre-hook: fills both windows (no string instructions).
str_pre:
    push rax
    push rbx
    push rcx
    mov rbx, ORACLE_SRC - WINDOW
    xor ecx, ecx
.fill:
    mov eax, ecx
    imul eax, eax, 13
    add eax, 7
    mov [rbx + rcx], al
    mov [rbx + rcx + (ORACLE_DST - ORACLE_SRC)], al
    inc ecx
    cmp ecx, 2 * WINDOW
    jb .fill
    xor ecx, ecx
.diff:
    not byte [rbx + rcx + (ORACLE_DST - ORACLE_SRC)]
    add ecx, 61
    cmp ecx, 2 * WINDOW
    jb .diff
    pop rcx
    pop rbx
    pop rax
    ret

; a32 pre-hook: as str_pre, plus garbage in RSI/RDI bits 63:32.
str_pre32:
    call str_pre
    mov r8, 0xdead000000000000
    or rsi, r8
    or rdi, r8
    ret

; post-hook: folds both windows.
str_post:
    mov r10, ORACLE_SRC - WINDOW
.src:
    mov r11, [r10]
    FOLD r11
    add r10, 8
    mov r11, ORACLE_SRC + WINDOW
    cmp r10, r11
    jb .src
    mov r10, ORACLE_DST - WINDOW
.dst:
    mov r11, [r10]
    FOLD r11
    add r10, 8
    mov r11, ORACLE_DST + WINDOW
    cmp r10, r11
    jb .dst
    ret

; STRINGS prefix-for-address-size: every instruction / repeat form at every size.
%macro STRINGS 1
  %assign s 0
  %rep 4
    %if s == 0
      %define SZ b
    %elif s == 1
      %define SZ w
    %elif s == 2
      %define SZ d
    %else
      %define SZ q
    %endif
    STRING_SIZE %1, SZ
    %assign s s + 1
  %endrep
%endmacro
%macro STRING_SIZE 2
    T {%1 movs%2}
    T {%1 rep movs%2}
    T {%1 stos%2}
    T {%1 rep stos%2}
    T {%1 lods%2}
    T {%1 rep lods%2}
    T {%1 cmps%2}
    T {%1 repe cmps%2}
    T {%1 repne cmps%2}
    T {%1 scas%2}
    T {%1 repe scas%2}
    T {%1 repne scas%2}
%endmacro

user_main:
    ORACLE_A str_values
    ORACLE_F str_flags
    ORACLE_HOOKS str_pre, str_post

    ORACLE_GROUP "string a64"
    ORACLE_B str_counts
    STRINGS a64
    ORACLE_END_GROUP

    ORACLE_GROUP "string a32"
    ORACLE_HOOKS str_pre32, str_post
    ORACLE_B str_counts32
    STRINGS a32
    ORACLE_END_GROUP

    ORACLE_GROUP "string overlap"
    ORACLE_HOOKS str_pre, str_post
    ORACLE_B str_counts
    T {lea rdi, [rsi + 1]}, {rep movsb}
    T {lea rdi, [rsi - 1]}, {rep movsb}
    T {lea rdi, [rsi + 3]}, {rep movsd}
    T {lea rdi, [rsi + 8]}, {rep movsq}
    T {lea rdi, [rsi + 1]}, {rep movsq}
    T {mov rdi, rsi}, {repe cmpsq}
    T {mov rdi, rsi}, {repne cmpsb}
    T {shl rcx, 4}, {rep movsb}
    T {shl rcx, 2}, {mov al, [rsi + 0x57]}, {repne scasb}
    ORACLE_END_GROUP
    ret

IMAGE_END
