; real_mode -- 16-bit real mode straight from the reset vector (no firmware): stack in RAM,
; 16-bit arithmetic and the flags it sets, two segment:offset pairs aliasing one byte, and a
; software interrupt through an IVT entry installed here.
; Flags are printed masked to the bits the instruction defines (OF SF ZF AF PF CF = 0x8D5).
; boot: bios
; expect-exit: 33
; expect: real_mode: cs=F000 ss:sp=0000:7000
; expect: push/pop: 5678 1234
; expect: add FFFF+0001 = 0000 flags 0055
; expect: add 7FFF+0001 = 8000 flags 0894
; expect: sub 0003-0005 = FFFE flags 0091
; expect: imul FED4*00C8 = FFFF15A0 cf/of 0801
; expect: div 000186A0/0007 = 37CD rem 0005
; expect: add/adc 1234FFFF+00000001 = 12350000
; expect: shl 8001,1 = 0002 flags 0801
; expect: alias write 1000:0234, read 1023:0004: A5
; expect: alias write 1023:0004, read 1000:0234: 5A
; expect: int 0x60: ax=0579 frame cs=F000 ip ok, CF restored by iret: 1
; expect: PASS
%include "rom.inc"

FLAGS_ARITH equ 0x08d5                  ; OF SF ZF AF PF CF
FLAGS_SHIFT equ 0x08c5                  ; AF is undefined after shifts
FLAGS_MUL   equ 0x0801                  ; only OF and CF are defined after IMUL

; RESULT_FLAGS "text", mask, result, flags: right after an instruction, print
; "text<AX> flags <FLAGS & mask>" and check both. Clobbers BX.
%macro RESULT_FLAGS 4
    pushf
    pop bx
    and bx, %2
    PRINT %1
    call put_hex16
    EXPECT_EQ ax, %3
    PRINT " flags "
    xchg ax, bx
    call put_hex16
    EXPECT_EQ ax, %4
    call put_crlf
%endmacro

INT_VECTOR equ 0x60

rom_main:
    PRINT "real_mode: cs="
    mov ax, cs
    call put_hex16
    EXPECT_EQ ax, 0xf000
    PRINT " ss:sp="
    mov ax, ss
    call put_hex16
    PRINT ":"
    mov ax, sp
    call put_hex16
    call put_crlf

    ; --- the stack is RAM ---
    push word 0x1234
    push word 0x5678
    PRINT "push/pop: "
    pop ax
    call put_hex16
    EXPECT_EQ ax, 0x5678
    PRINT " "
    pop ax
    call put_hex16
    EXPECT_EQ ax, 0x1234
    call put_crlf
    EXPECT_EQ sp, ROM_STACK_TOP

    ; --- 16-bit arithmetic and flags ---
    mov ax, 0xffff
    add ax, 0x0001                      ; carry out, zero, even parity, nibble carry
    RESULT_FLAGS "add FFFF+0001 = ", FLAGS_ARITH, 0x0000, 0x0055
    mov ax, 0x7fff
    add ax, 0x0001                      ; signed overflow into the sign bit
    RESULT_FLAGS "add 7FFF+0001 = ", FLAGS_ARITH, 0x8000, 0x0894
    mov ax, 0x0003
    sub ax, 0x0005                      ; borrow, negative, odd parity (FE has 7 ones)
    RESULT_FLAGS "sub 0003-0005 = ", FLAGS_ARITH, 0xfffe, 0x0091

    mov ax, -300
    mov bx, 200
    imul bx                             ; -60000 does not fit in 16 bits: CF = OF = 1
    pushf
    pop bx
    and bx, FLAGS_MUL
    PRINT "imul FED4*00C8 = "
    xchg ax, dx
    call put_hex16
    EXPECT_EQ ax, 0xffff
    xchg ax, dx
    call put_hex16
    EXPECT_EQ ax, 0x15a0
    PRINT " cf/of "
    mov ax, bx
    call put_hex16
    EXPECT_EQ ax, 0x0801
    call put_crlf

    mov dx, 0x0001
    mov ax, 0x86a0                      ; DX:AX = 100000
    mov cx, 7
    div cx
    PRINT "div 000186A0/0007 = "
    call put_hex16
    EXPECT_EQ ax, 14285
    PRINT " rem "
    mov ax, dx
    call put_hex16
    EXPECT_EQ ax, 5
    call put_crlf

    mov ax, 0xffff                      ; 32-bit add from 16-bit halves: DX:AX
    mov dx, 0x1234
    add ax, 0x0001
    adc dx, 0x0000
    PRINT "add/adc 1234FFFF+00000001 = "
    xchg ax, dx
    call put_hex16
    EXPECT_EQ ax, 0x1235
    xchg ax, dx
    call put_hex16
    EXPECT_EQ ax, 0x0000
    call put_crlf

    mov ax, 0x8001
    shl ax, 1                           ; CF = old bit 15, OF = new bit 15 ^ CF
    RESULT_FLAGS "shl 8001,1 = ", FLAGS_SHIFT, 0x0002, 0x0801

    ; --- segment arithmetic: 1000:0234 and 1023:0004 are both linear 0x10234 ---
    mov ax, 0x1000
    mov es, ax
    mov ax, 0x1023
    mov fs, ax
    mov byte [fs:0x0004], 0
    mov byte [es:0x0234], 0xa5
    PRINT "alias write 1000:0234, read 1023:0004: "
    mov al, [fs:0x0004]
    call put_hex8
    EXPECT_EQ al, 0xa5
    call put_crlf
    mov byte [fs:0x0004], 0x5a
    PRINT "alias write 1023:0004, read 1000:0234: "
    mov al, [es:0x0234]
    call put_hex8
    EXPECT_EQ al, 0x5a
    call put_crlf

    ; --- software interrupt through an IVT entry (DS = 0: the IVT is at linear 0) ---
    mov word [INT_VECTOR * 4], int60_handler
    mov word [INT_VECTOR * 4 + 2], cs
    mov ax, 0x0123
    mov bx, 0x0456
    stc                                 ; the handler clears CF; IRET must restore it
    int INT_VECTOR
.int_return:
    setc cl
    PRINT "int 0x60: ax="
    call put_hex16
    EXPECT_EQ ax, 0x0579
    PRINT " frame cs="
    mov ax, [int_seen_cs]
    call put_hex16
    EXPECT_EQ ax, 0xf000
    mov ax, [int_seen_ip]
    cmp ax, .int_return
    jne .bad_ip
    PRINT " ip ok"
    jmp .ip_done
.bad_ip:
    PRINT " ip "
    call put_hex16
    EXPECT_EQ ax, .int_return
.ip_done:
    PRINT ", CF restored by iret: "
    mov al, cl
    call put_hex4
    EXPECT_EQ cl, 1
    call put_crlf

    TEST_DONE

int_seen_ip equ 0x504                   ; RAM scratch (after FAIL_COUNTER)
int_seen_cs equ 0x506

; int60_handler: AX += BX; records the return CS:IP the CPU pushed.
int60_handler:
    push bp
    mov bp, sp
    push ax
    mov ax, [bp + 2]                    ; IP
    mov [int_seen_ip], ax
    mov ax, [bp + 4]                    ; CS
    mov [int_seen_cs], ax
    pop ax
    pop bp
    add ax, bx
    clc
    iret

IMAGE_END
