; serial -- the 16550 UART's registers at COM1 (0x3F8), from real mode: scratch register,
; LCR and the divisor latch (DLAB), IER, IIR with FIFOs on, LSR THRE/TEMT after a write,
; and loopback mode (MCR bit 4): bytes written to THR come back in RBR with LSR.DR set, in
; FIFO order, and MSR's upper nibble mirrors MCR's outputs (DTR->DSR, RTS->CTS, OUT1->RI,
; OUT2->DCD). MSR delta bits (low nibble) are masked off. Nothing is printed while DLAB or
; loopback is on: values are kept in RAM and printed afterwards.
; boot: bios
; expect-exit: 33
; expect: serial: scratch 5A A5
; expect: lcr 03, with dlab 83, divisor written 000C read 000C, restored 0001, lcr 03
; expect: ier write 05 read 05, write 00 read 00
; expect: iir with fifo, no interrupt: C1
; expect: thr write: X, lsr after drain 60
; expect: loopback: lsr.dr=1 rbr=A7 then lsr.dr=0
; expect: loopback fifo: 11 22 33, then lsr.dr=0
; expect: loopback msr (mcr 1F 11 12 14 18): F0 20 10 40 80
; expect: loopback off, mcr 03
; expect: PASS
%include "rom.inc"

SAVED equ 0x600                         ; RAM for values read while COM1 cannot print
POLL_LIMIT equ 10000

; UART_OUT reg, value / UART_IN reg (-> AL)
%macro UART_OUT 2
    OUTB COM1 + %1, %2
%endmacro
%macro UART_IN 1
    INB COM1 + %1
%endmacro

rom_main:
    ; --- scratch register ---
    PRINT "serial: scratch "
    UART_OUT UART_SCR, 0x5a
    UART_IN UART_SCR
    call put_hex8
    EXPECT_EQ al, 0x5a
    PRINT " "
    UART_OUT UART_SCR, 0xa5
    UART_IN UART_SCR
    call put_hex8
    EXPECT_EQ al, 0xa5
    call put_crlf

    ; --- LCR and the divisor latch ---
    UART_IN UART_LCR
    mov [SAVED + 0], al
    UART_OUT UART_LCR, 0x83
    UART_IN UART_LCR
    mov [SAVED + 1], al
    UART_OUT UART_DLL, 0x0c
    UART_OUT UART_DLM, 0x00
    UART_IN UART_DLM
    mov [SAVED + 2], al
    UART_IN UART_DLL
    mov [SAVED + 3], al
    UART_OUT UART_DLL, 0x01
    UART_OUT UART_DLM, 0x00
    UART_IN UART_DLM
    mov [SAVED + 4], al
    UART_IN UART_DLL
    mov [SAVED + 5], al
    UART_OUT UART_LCR, 0x03
    UART_IN UART_LCR
    mov [SAVED + 6], al
    PRINT "lcr "
    mov al, [SAVED + 0]
    call put_hex8
    EXPECT_EQ al, 0x03
    PRINT ", with dlab "
    mov al, [SAVED + 1]
    call put_hex8
    EXPECT_EQ al, 0x83
    PRINT ", divisor written 000C read "
    mov ax, [SAVED + 2]                 ; AL = DLM, AH = DLL
    xchg al, ah
    call put_hex16
    EXPECT_EQ ax, 0x000c
    PRINT ", restored "
    mov ax, [SAVED + 4]
    xchg al, ah
    call put_hex16
    EXPECT_EQ ax, 0x0001
    PRINT ", lcr "
    mov al, [SAVED + 6]
    call put_hex8
    EXPECT_EQ al, 0x03
    call put_crlf

    ; --- IER (IF = 0 and no handler: an interrupt would go nowhere) ---
    PRINT "ier write 05 read "
    UART_OUT UART_IER, 0x05
    UART_IN UART_IER
    call put_hex8
    EXPECT_EQ al, 0x05
    PRINT ", write 00 read "
    UART_OUT UART_IER, 0x00
    UART_IN UART_IER
    call put_hex8
    EXPECT_EQ al, 0x00
    call put_crlf

    PRINT "iir with fifo, no interrupt: "
    UART_IN UART_IIR
    call put_hex8
    EXPECT_EQ al, 0xc1
    call put_crlf

    ; --- LSR after a raw THR write: wait until the transmitter is empty ---
    PRINT "thr write: "
    call wait_temt
    UART_OUT UART_THR, 'X'
    call wait_temt
    UART_IN UART_LSR
    mov bl, al
    PRINT ", lsr after drain "
    mov al, bl
    call put_hex8
    EXPECT_EQ al, LSR_THRE | LSR_TEMT
    call put_crlf

    ; --- loopback ---
    call wait_temt                      ; let the printed text leave before looping back
    UART_OUT UART_MCR, 0x13             ; loop, DTR, RTS
    call drain_rx
    UART_OUT UART_THR, 0xa7
    call wait_dr
    UART_IN UART_LSR
    and al, LSR_DR
    mov [SAVED + 0], al
    UART_IN UART_RBR
    mov [SAVED + 1], al
    UART_IN UART_LSR
    and al, LSR_DR
    mov [SAVED + 2], al

    UART_OUT UART_THR, 0x11
    UART_OUT UART_THR, 0x22
    UART_OUT UART_THR, 0x33
    mov si, SAVED + 3
    mov cx, 3
.fifo:
    call wait_dr
    UART_IN UART_RBR
    mov [si], al
    inc si
    loop .fifo
    UART_IN UART_LSR
    and al, LSR_DR
    mov [SAVED + 6], al

    mov si, mcr_values
    mov di, SAVED + 8
    mov cx, 5
.msr:
    mov al, [cs:si]
    mov dx, COM1 + UART_MCR
    out dx, al
    UART_IN UART_MSR
    and al, 0xf0
    mov [di], al
    inc si
    inc di
    loop .msr
    UART_OUT UART_MCR, 0x03             ; loopback off
    UART_IN UART_MCR
    mov [SAVED + 13], al

    PRINT "loopback: lsr.dr="
    mov al, [SAVED + 0]
    call put_hex4
    EXPECT_EQ al, 1
    PRINT " rbr="
    mov al, [SAVED + 1]
    call put_hex8
    EXPECT_EQ al, 0xa7
    PRINT " then lsr.dr="
    mov al, [SAVED + 2]
    call put_hex4
    EXPECT_EQ al, 0
    call put_crlf

    PRINT "loopback fifo: "
    mov al, [SAVED + 3]
    call put_hex8
    EXPECT_EQ al, 0x11
    PRINT " "
    mov al, [SAVED + 4]
    call put_hex8
    EXPECT_EQ al, 0x22
    PRINT " "
    mov al, [SAVED + 5]
    call put_hex8
    EXPECT_EQ al, 0x33
    PRINT ", then lsr.dr="
    mov al, [SAVED + 6]
    call put_hex4
    EXPECT_EQ al, 0
    call put_crlf

    PRINT "loopback msr (mcr 1F 11 12 14 18):"
    mov si, SAVED + 8
    mov di, msr_expected
    mov cx, 5
.print_msr:
    PRINT " "
    mov al, [si]
    call put_hex8
    EXPECT_EQ al, [cs:di]
    inc si
    inc di
    loop .print_msr
    call put_crlf

    PRINT "loopback off, mcr "
    mov al, [SAVED + 13]
    call put_hex8
    EXPECT_EQ al, 0x03
    call put_crlf

    TEST_DONE

mcr_values:   db 0x1f, 0x11, 0x12, 0x14, 0x18
msr_expected: db 0xf0, 0x20, 0x10, 0x40, 0x80

; wait_temt: poll LSR until TEMT (bounded). Preserves registers.
wait_temt:
    push ax
    push cx
    push dx
    mov cx, POLL_LIMIT
    mov dx, COM1 + UART_LSR
.poll:
    in al, dx
    test al, LSR_TEMT
    jnz .done
    loop .poll
.done:
    pop dx
    pop cx
    pop ax
    ret

; wait_dr: poll LSR until DR (bounded; a missing byte then reads as whatever RBR holds).
wait_dr:
    push ax
    push cx
    push dx
    mov cx, POLL_LIMIT
    mov dx, COM1 + UART_LSR
.poll:
    in al, dx
    test al, LSR_DR
    jnz .done
    loop .poll
.done:
    pop dx
    pop cx
    pop ax
    ret

; drain_rx: read RBR while LSR.DR is set (at most 64 bytes).
drain_rx:
    push ax
    push cx
    push dx
    mov cx, 64
.next:
    mov dx, COM1 + UART_LSR
    in al, dx
    test al, LSR_DR
    jz .done
    mov dx, COM1 + UART_RBR
    in al, dx
    loop .next
.done:
    pop dx
    pop cx
    pop ax
    ret

IMAGE_END
