; cpu_bits -- bit, byte and exchange instructions at CPL3 in long mode, table driven
; (lib/oracle.inc): BT BTS BTR BTC (register forms with masked offsets; memory forms with
; offsets from -32768 to 32767 bits, immediate offsets masked to the operand size; the touched
; qword and all six flags folded), BSF BSR (zero source: destination and ZF), LZCNT TZCNT
; POPCNT, BSWAP (32/64; 16-bit in its own group), SETcc and CMOVcc for all 16 conditions over
; all 64 combinations of CF PF AF ZF SF OF, XCHG, XADD, CMPXCHG (8/16/32/64, register and
; memory, LOCK, equal and unequal), CMPXCHG8B, CMPXCHG16B, LAHF, SAHF, and PUSHF/POPF at
; CPL3 with IOPL 0 and IF 1 (POPF may not change IF or IOPL; AC, NT, ID do change).
; Expected lines: from a run under -accel kvm on this host (kvm_pvm: CPL3 runs natively on
; the Intel CPU, so these are the hardware's answers); tcg must print the same.
; The expect-qemu lines: QEMU's TCG computes BSF/BSR's undefined flags differently and, for a
; zero source, zero-extends a 32-bit destination (the CPU leaves all of RAX unchanged); it
; gives BSWAP r16 another (undefined) result; its default CPU model has no POPCNT/LZCNT, so
; those are #UD (faults=) or run as BSR.
; boot: multiboot
; expect-exit: 33
; expect: bt: 3CCC2DAD
; expect: bts: 2FAB0886
; expect: btr: 2018A8CB
; expect: btc: AA530B12
; expect: bsf/bsr: 19ED223F
; expect-qemu: bsf/bsr: 34C8E0CD
; expect: bswap: 05D92A44
; expect: bswap16: 55936A29
; expect-qemu: bswap16: 8355139D
; expect: setcc: F1049D4E
; expect: cmovcc: 3D85F80B
; expect: xchg: 1BDB8FC2
; expect: xadd: 12AE9B8B
; expect: cmpxchg: D8191B04
; expect: cmpxchg8b: A7F51F8E
; expect: lahf/sahf: DE0CBAE5
; expect: pushf/popf: BAF5DBB1
; expect: cmpxchg16b: A822A984
; expect: popcnt: C54061D4
; expect-qemu: popcnt: A806A327
; expect: lzcnt/tzcnt: 6160B5ED
; expect-qemu: lzcnt/tzcnt: 999AE569
; expect: cases=871176 faults=0
; expect-qemu: cases=871176 faults=10816
; expect: PASS
%include "multiboot.inc"
%include "long_mode.inc"
%include "oracle.inc"

bits 64

; all 64 combinations of CF PF AF ZF SF OF (bit 1 set)
flags64:
    dq 64
%assign i 0
%rep 64
    dq 2 | (i & 1) | ((i & 2) << 1) | ((i & 4) << 2) | ((i & 8) << 3) | ((i & 16) << 3) | ((i & 32) << 6)
  %assign i i + 1
%endrep

; fill_buf: ORACLE_BUF .. +0x10000 from an LCG (deterministic memory for the memory forms).
fill_buf:
    mov rdi, ORACLE_BUF
    mov ecx, ORACLE_BUF_LEN / 8
    mov rax, 0x243f6a8885a308d3
    mov rdx, 6364136223846793005
    mov rsi, 1442695040888963407
.next:
    mov [rdi], rax
    imul rax, rdx
    add rax, rsi
    add rdi, 8
    dec ecx
    jnz .next
    ret

; BITOP op: register and memory forms; memory stubs fold the qword holding the bit (RDX).
%macro BITOP 1
  %defstr BITOP_NAME %1
    call fill_buf
    ORACLE_GROUP BITOP_NAME
    ORACLE_B oracle_vals
    T {%1 ax, bx}
    T {%1 eax, ebx}
    T {%1 rax, rbx}
    T {mov r12, rax}, {%1 r12, rbx}, {mov rax, r12}
    T {movsx rbx, bx}, {%1 [rbp], rbx}, {pushfq}, {mov rdx, rbx}, {sar rdx, 6}, {mov rdx, [rbp + rdx * 8]}, {popfq}
    T {movsx rbx, bx}, {%1 [rbp], ebx}, {pushfq}, {mov rdx, rbx}, {sar rdx, 6}, {mov rdx, [rbp + rdx * 8]}, {popfq}
    T {movsx rbx, bx}, {%1 [rbp], bx}, {pushfq}, {mov rdx, rbx}, {sar rdx, 6}, {mov rdx, [rbp + rdx * 8]}, {popfq}
    T {movzx ebx, bl}, {%1 [rbp + 0x11], rbx}, {pushfq}, {mov rdx, [rbp + 0x10]}, {mov rcx, [rbp + 0x18]}, {mov rsi, [rbp + 0x20]}, {popfq}
    ORACLE_B oracle_one
    T {%1 ax, 17}
    T {%1 eax, 0}
    T {%1 eax, 31}
    T {%1 eax, 33}
    T {%1 rax, 63}
    T {%1 rax, 0x47}
    T {mov [rbp], rax}, {%1 word [rbp], 0x1f}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 dword [rbp], 35}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {%1 qword [rbp], 0xff}, {mov rax, [rbp]}
  %ifnidn %1, bt
    T {mov [rbp], rax}, {lock %1 qword [rbp], 50}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {movsx rbx, bl}, {lock %1 [rbp + 8], rbx}, {mov rax, [rbp]}, {mov rdx, [rbp + 8]}, {mov rcx, [rbp + 16]}
  %endif
    ORACLE_END_GROUP
%endmacro

; FOR_CC m: invokes the one-parameter macro m for each of the 16 condition codes.
%macro FOR_CC 1
  %1 o
  %1 no
  %1 b
  %1 ae
  %1 e
  %1 ne
  %1 be
  %1 a
  %1 s
  %1 ns
  %1 p
  %1 np
  %1 l
  %1 ge
  %1 le
  %1 g
%endmacro
%macro SET_REG 1
    T {set%1 al}, {set%1 bh}
%endmacro
%macro SET_MEM 1
    T {mov [rbp], rax}, {set%1 byte [rbp]}, {mov rax, [rbp]}
%endmacro
%macro CMOV16 1
    T {cmov%1 ax, bx}
%endmacro
%macro CMOV32 1
    T {cmov%1 eax, ebx}
%endmacro
%macro CMOV64 1
    T {cmov%1 rax, rbx}
%endmacro
%macro CMOVMEM 1
    T {mov [rbp], rbx}, {cmov%1 edx, [rbp]}
%endmacro

user_main:
    BITOP bt
    BITOP bts
    BITOP btr
    BITOP btc

    call fill_buf
    ORACLE_GROUP "bsf/bsr"
    ORACLE_B oracle_vals
    T {bsf ax, bx}
    T {bsf eax, ebx}
    T {bsf rax, rbx}
    T {mov [rbp], rbx}, {bsf rax, [rbp]}
    T {mov [rbp], rbx}, {bsf ax, [rbp]}
    T {bsr ax, bx}
    T {bsr eax, ebx}
    T {bsr rax, rbx}
    T {mov [rbp], rbx}, {bsr eax, [rbp]}
    T {mov r13, rax}, {bsr r13, rbx}, {mov rax, r13}
    ORACLE_END_GROUP

    ORACLE_GROUP "bswap"
    ORACLE_B oracle_one
    T {bswap eax}
    T {bswap rax}
    T {bswap r9}, {bswap ebx}
    T {mov r15, rax}, {bswap r15}, {mov rax, r15}
    ORACLE_END_GROUP

    ORACLE_GROUP "bswap16"                ; undefined in the manual; the hardware's answer
    T {db 0x66, 0x0f, 0xc8}             ; bswap ax
    T {db 0x66, 0x0f, 0xcb}             ; bswap bx
    ORACLE_END_GROUP

    ORACLE_GROUP "setcc"
    ORACLE_A oracle_vals_small
    ORACLE_B oracle_one
    ORACLE_F flags64
    FOR_CC SET_REG
    FOR_CC SET_MEM
    ORACLE_END_GROUP

    ORACLE_GROUP "cmovcc"
    ORACLE_B oracle_vals_small
    FOR_CC CMOV16
    FOR_CC CMOV32
    FOR_CC CMOV64
    FOR_CC CMOVMEM
    ORACLE_END_GROUP
    ORACLE_DEFAULTS

    ORACLE_GROUP "xchg"
    ORACLE_B oracle_vals_small
    T {xchg al, bl}
    T {xchg ah, bl}
    T {xchg ax, bx}
    T {xchg eax, ebx}
    T {xchg rax, rbx}
    T {xchg eax, edx}
    T {db 0x87, 0xc0}                   ; xchg eax, eax (not NOP: zero-extends)
    T {db 0x66, 0x90}                   ; xchg ax, ax: a NOP
    T {mov r8, rbx}, {xchg r8, rax}, {mov rbx, r8}
    T {mov [rbp], rbx}, {xchg [rbp], al}, {mov rbx, [rbp]}
    T {mov [rbp], rbx}, {xchg [rbp], eax}, {mov rbx, [rbp]}
    T {mov [rbp], rbx}, {xchg [rbp], rax}, {mov rbx, [rbp]}
    ORACLE_END_GROUP

    ORACLE_GROUP "xadd"
    ORACLE_B oracle_vals
    T {xadd al, bl}
    T {xadd bx, ax}
    T {xadd eax, ebx}
    T {xadd rax, rbx}
    T {xadd rax, rax}
    T {xadd eax, eax}
    T {xadd ax, ax}
    T {xadd al, al}
    T {xadd ah, ah}
    T {mov [rbp], rax}, {xadd [rbp], bl}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {lock xadd [rbp], bx}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {lock xadd [rbp], ebx}, {mov rax, [rbp]}
    T {mov [rbp], rax}, {lock xadd [rbp], rbx}, {mov rax, [rbp]}
    ORACLE_END_GROUP

    ORACLE_GROUP "cmpxchg"
    ORACLE_B oracle_vals
    ; RAX = a against the destination b: equal only when a == b
    T {cmpxchg bl, cl}
    T {cmpxchg bx, dx}
    T {cmpxchg ebx, edx}
    T {cmpxchg rbx, rdx}
    T {mov [rbp], rbx}, {cmpxchg [rbp], dl}, {mov rbx, [rbp]}
    T {mov [rbp], rbx}, {lock cmpxchg [rbp], dx}, {mov rbx, [rbp]}
    T {mov [rbp], rbx}, {lock cmpxchg [rbp], edx}, {mov rbx, [rbp]}
    T {mov [rbp], rbx}, {lock cmpxchg [rbp], rdx}, {mov rbx, [rbp]}
    ; equal low parts, different high parts
    T {mov rbx, rax}, {not rbx}, {mov bl, al}, {cmpxchg bl, dl}
    T {mov rbx, rax}, {not rbx}, {mov ebx, eax}, {cmpxchg ebx, edx}
    T {mov [rbp], rax}, {cmpxchg [rbp], ecx}, {mov rbx, [rbp]}
    T {mov [rbp], rax}, {cmpxchg [rbp], cx}, {mov rbx, [rbp]}
    T {cmpxchg al, bl}
    T {cmpxchg ax, bx}
    T {cmpxchg eax, ebx}
    T {cmpxchg rax, rbx}
    ORACLE_END_GROUP

    ORACLE_GROUP "cmpxchg8b"
    ORACLE_B oracle_vals_small
    T {mov [rbp], rax}, {cmpxchg8b [rbp]}, {mov rsi, [rbp]}
    T {mov [rbp], rbx}, {lock cmpxchg8b [rbp]}, {mov rsi, [rbp]}
    T {mov [rbp], rdx}, {cmpxchg8b [rbp]}, {mov rsi, [rbp]}
    ORACLE_END_GROUP

    ORACLE_GROUP "lahf/sahf"
    ORACLE_B oracle_one
    ORACLE_F flags64
    T {lahf}
    T {mov ah, al}, {sahf}
    T {mov ah, al}, {sahf}, {lahf}
    T {mov ah, 0xff}, {sahf}
    ORACLE_END_GROUP

    ORACLE_GROUP "pushf/popf"
    ORACLE_A oracle_vals
    ORACLE_F oracle_flags
    ORACLE_FMASK -1
    T {pushfq}, {pop rax}
    T {pushfw}, {pop dx}
    T {btr rbx, 8}, {push rbx}, {popfq}, {pushfq}, {pop rax}, {push 0x202}, {popfq}
    T {btr rax, 8}, {push rax}, {popfq}, {pushfq}, {pop rax}, {push 0x202}, {popfq}
    T {btr rax, 8}, {push ax}, {popfw}, {pushfq}, {pop rax}, {push 0x202}, {popfq}
    T {push qword 0x3ed5}, {popfq}, {pushfq}, {pop rax}, {push 0x202}, {popfq}
    T {push qword 0x2c0000}, {popfq}, {pushfq}, {pop rax}, {push 0x202}, {popfq}
    T {push qword 0}, {popfq}, {pushfq}, {pop rax}, {push 0x202}, {popfq}
    T {push qword 0x34000}, {popfq}, {pushfq}, {pop rax}, {push 0x202}, {popfq}
    ORACLE_END_GROUP

    ; Instructions that Janus's CPUID does not announce (CX16, POPCNT, ABM/LZCNT, BMI1/TZCNT)
    ; but that every CPU this runs on under KVM executes: their own lines.
    ORACLE_DEFAULTS
    ORACLE_GROUP "cmpxchg16b"
    ORACLE_B oracle_vals_small
    T {mov [rbp], rdx}, {mov [rbp + 8], rax}, {cmpxchg16b [rbp]}, {mov rsi, [rbp]}, {mov rdi, [rbp + 8]}
    T {mov [rbp], rax}, {mov [rbp + 8], rdx}, {lock cmpxchg16b [rbp]}, {mov rsi, [rbp]}, {mov rdi, [rbp + 8]}
    T {mov [rbp], rax}, {mov [rbp + 8], rbx}, {cmpxchg16b [rbp]}, {mov rsi, [rbp]}, {mov rdi, [rbp + 8]}
    ORACLE_END_GROUP

    ORACLE_GROUP "popcnt"
    ORACLE_B oracle_vals
    T {popcnt ax, bx}
    T {popcnt eax, ebx}
    T {popcnt rax, rbx}
    T {mov [rbp], rbx}, {popcnt rax, [rbp]}
    ORACLE_END_GROUP

    ORACLE_GROUP "lzcnt/tzcnt"
    T {lzcnt ax, bx}
    T {lzcnt eax, ebx}
    T {lzcnt rax, rbx}
    T {tzcnt ax, bx}
    T {tzcnt eax, ebx}
    T {tzcnt rax, rbx}
    T {mov [rbp], rbx}, {tzcnt rax, [rbp]}
    ORACLE_END_GROUP
    ret

IMAGE_END
