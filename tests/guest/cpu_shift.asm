; cpu_shift -- SHL SHR SAR ROL ROR RCL RCR SHLD SHRD at CPL3 in long mode, table driven
; (lib/oracle.inc): 8-bit (low and high byte registers), 16, 32 and 64-bit register and memory
; destinations, counts in CL over 0 1 2 3 7 8 9 15 16 17 31 32 33 63 64 65 and CL values with
; bits above the count mask (0xE0 masks to 0, 0xFF, 0x41, 0x120), immediate counts and the
; by-one forms, each over 26 values x 4 input flag states. RFLAGS' six arithmetic bits are
; folded whole, so the flags Intel leaves undefined (OF for counts > 1, AF, CF/OF of SHLD/SHRD
; beyond the operand size, ...) must match the real CPU too. Also SAL's alias encoding (/6).
; Expected lines: from a run under -accel kvm on this host (kvm_pvm: CPL3 runs natively on
; the Intel CPU, so these are the hardware's answers); tcg must print the same.
; The expect-qemu lines: QEMU's TCG computes the undefined flags differently (AF, OF for counts > 1,
; ...); its results are the hardware's (a build with -DORACLE_NOFLAGS matches kvm exactly).
; Hardware detail this catches: ROL/ROR r/m, CL with a masked count >= 2 set OF from the
; operand's two top bits (ROL) / its top and bottom bits (ROR) -- ROL/ROR r/m, imm8 with
; count >= 2 leave OF unchanged.
; boot: multiboot
; expect-exit: 33
; expect: shl: 01BCD99D
; expect-qemu: shl: 56B973F7
; expect: shr: 7A30912D
; expect-qemu: shr: CF10D8B6
; expect: sar: B3200083
; expect: rol: 7B3A3708
; expect-qemu: rol: DF63805A
; expect: ror: 0C505B93
; expect-qemu: ror: 0AEDFCA3
; expect: rcl: AD8A42DA
; expect-qemu: rcl: 7B9CAF5F
; expect: rcr: 1BA237C9
; expect-qemu: rcr: 39D62B86
; expect: shld: F24BEE5F
; expect-qemu: shld: CCD8E7D7
; expect: shrd: 6595BB8F
; expect-qemu: shrd: 247AD898
; expect: sal/6: 151D99F0
; expect-qemu: sal/6: E5F220AF
; expect: cases=356824 faults=0
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
%include "oracle.inc"

bits 64

counts:
    dq (counts_end - counts - 8) / 8
    dq 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65
    dq 0xe0, 0xff, 0x41, 0x120, 0xdeadbeef00000004
counts_end:

; SHIFT op: every form of a shift or rotate.
%macro SHIFT 1
  %defstr SHIFT_NAME %1
    ORACLE_GROUP SHIFT_NAME
    ORACLE_B counts
    T {%1 al, cl}
    T {%1 ah, cl}
    T {%1 dil, cl}
    T {%1 ax, cl}
    T {%1 eax, cl}
    T {%1 rax, cl}
    T {mov r10, rax}, {%1 r10d, cl}, {mov rax, r10}
    T {mov [rbp], rax}, {%1 byte [rbp], cl}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 word [rbp], cl}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 dword [rbp], cl}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 qword [rbp], cl}, {mov rax, [rbp]}
    ORACLE_B oracle_one
  %assign i 0
  %rep 12
    %assign c (i == 0) ? 0 : (i == 1) ? 2 : (i == 2) ? 7 : (i == 3) ? 8 : (i == 4) ? 9 : (i == 5) ? 15 : (i == 6) ? 16 : (i == 7) ? 17 : (i == 8) ? 31 : (i == 9) ? 32 : (i == 10) ? 33 : 63
    T {%1 al, c}
    T {%1 ax, c}
    T {%1 eax, c}
    T {%1 rax, c}
    %assign i i + 1
  %endrep
    T {%1 bh, 1}
    T {%1 al, 1}
    T {%1 ax, 1}
    T {%1 eax, 1}
    T {%1 rax, 1}
    T {mov [rbp], rax}, {%1 byte [rbp], 1}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 word [rbp], 1}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 dword [rbp], 1}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 qword [rbp], 1}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 qword [rbp], 40}, {mov rax, [rbp]}
    ORACLE_END_GROUP
%endmacro

; DSHIFT op: SHLD / SHRD, destination RAX (or memory), source RDX.
%macro DSHIFT 1
  %defstr DSHIFT_NAME %1
    ORACLE_GROUP DSHIFT_NAME
    ORACLE_B counts
    T {%1 ax, dx, cl}
    T {%1 eax, edx, cl}
    T {%1 rax, rdx, cl}
    T {mov r11, rdx}, {%1 bx, r11w, cl}
    T {mov [rbp], rax}, {%1 word [rbp], dx, cl}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 dword [rbp], edx, cl}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 qword [rbp], rdx, cl}, {mov rax, [rbp]}
    ORACLE_B oracle_vals
    T {%1 ax, dx, 1}
    T {%1 eax, ebx, 1}
    T {%1 rax, rbx, 1}
    T {%1 ax, bx, 0}
    T {%1 ax, bx, 9}
    T {%1 ax, bx, 16}
    T {%1 ax, bx, 17}
    T {%1 ax, bx, 31}
    T {%1 eax, ebx, 0}
    T {%1 eax, ebx, 8}
    T {%1 eax, ebx, 31}
    T {%1 eax, ebx, 32}
    T {%1 rax, rbx, 0}
    T {%1 rax, rbx, 13}
    T {%1 rax, rbx, 32}
    T {%1 rax, rbx, 63}
    T {%1 rax, rbx, 64}
    T {mov [rbp], rax}, {%1 qword [rbp], rbx, 5}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 dword [rbp], ebx, 27}, {mov rax, [rbp]}
    ORACLE_END_GROUP
%endmacro

user_main:
    SHIFT shl
    SHIFT shr
    SHIFT sar
    SHIFT rol
    SHIFT ror
    SHIFT rcl
    SHIFT rcr
    DSHIFT shld
    DSHIFT shrd

    ; SAL's second encoding (/6), which Intel CPUs run as SHL.
    ORACLE_GROUP "sal/6"
    ORACLE_B counts
    T {db 0xd2, 0xf0}                   ; sal al, cl
    T {db 0x66, 0xd3, 0xf0}             ; sal ax, cl
    T {db 0xd3, 0xf0}                   ; sal eax, cl
    T {db 0x48, 0xd3, 0xf0}             ; sal rax, cl
    T {db 0x48, 0xd1, 0xf0}             ; sal rax, 1
    T {db 0xc1, 0xf0, 0x05}             ; sal eax, 5
    ORACLE_END_GROUP
    ret

IMAGE_END
