; pci_config -- PCI configuration mechanism #1 from real mode, as an OS probes it: CONFIG_ADDRESS
; (0xCF8) reads back 80000000 after that write (Linux's probe), then dword, word and byte reads
; of CONFIG_DATA (0xCFC-0xCFF, each port one byte lane) at the host bridge 00:00.0 (Intel
; 440FX 8086:1237, class 06 00 00, single function) and the ISA bridge 00:01.0 (PIIX3
; 8086:7000, class 06 01 00, header type 80: multi-function). An absent device (00:1F.0) and
; a cycle with the enable bit clear read all ones. QEMU -M pc has the same two bridges there.
; boot: bios
; expect-exit: 33
; expect: pci_config: config address 80000000
; expect: 00:00.0 id 12378086 vendor 8086 device 1237 bytes 86 80 37 12
; expect: 00:00.0 class 060000 header type 00
; expect: 00:01.0 id 70008086 class 0601 header type 80
; expect: 00:1F.0 id FFFFFFFF, enable bit clear FFFFFFFF
; expect: PASS
%include "rom.inc"

PCI_ADDR equ 0xcf8
PCI_DATA equ 0xcfc

; PCI_SELECT bus_dev_fn_reg: write CONFIG_ADDRESS (clobbers EAX, DX)
%macro PCI_SELECT 1
    mov dx, PCI_ADDR
    mov eax, %1
    out dx, eax
%endmacro

; PCI_READ32 bus_dev_fn_reg: EAX = the configuration dword there, printed (clobbers DX)
%macro PCI_READ32 1
    PCI_SELECT %1
    mov dx, PCI_DATA
    in eax, dx
    call put_hex32
%endmacro

; pci_address(device, function, register) with the enable bit
%define PCI_CFG(dev, fn, reg) (0x80000000 | ((dev) << 11) | ((fn) << 8) | (reg))

rom_main:
    PRINT "pci_config: config address "
    PCI_SELECT 0x80000000
    in eax, dx
    call put_hex32
    EXPECT_EQ eax, 0x80000000
    call put_crlf

    ; --- 00:00.0 ---
    PRINT "00:00.0 id "
    PCI_READ32 PCI_CFG(0, 0, 0x00)
    EXPECT_EQ eax, 0x12378086
    PRINT " vendor "
    in ax, dx                           ; lanes 0-1
    call put_hex16
    PRINT " device "
    mov dx, PCI_DATA + 2                ; lanes 2-3
    in ax, dx
    call put_hex16
    EXPECT_EQ ax, 0x1237
    PRINT " bytes "
    mov dx, PCI_DATA
.lanes:
    in al, dx
    call put_hex8
    cmp dx, PCI_DATA + 3
    je .lanes_done
    PRINT " "
    inc dx
    jmp .lanes
.lanes_done:
    call put_crlf

    PRINT "00:00.0 class "
    PCI_SELECT PCI_CFG(0, 0, 0x08)
    mov dx, PCI_DATA
    in eax, dx
    shr eax, 8                          ; base class, subclass, programming interface
    mov ebx, eax
    shr eax, 16
    call put_hex8
    mov ax, bx
    call put_hex16
    EXPECT_EQ ebx, 0x060000
    PRINT " header type "
    PCI_SELECT PCI_CFG(0, 0, 0x0c)
    mov dx, PCI_DATA + 2                ; header type: byte 0x0E, lane 2
    in al, dx
    call put_hex8
    call put_crlf

    ; --- 00:01.0 ---
    PRINT "00:01.0 id "
    PCI_READ32 PCI_CFG(1, 0, 0x00)
    EXPECT_EQ eax, 0x70008086
    PRINT " class "
    PCI_SELECT PCI_CFG(1, 0, 0x08)
    mov dx, PCI_DATA + 2                ; subclass and base class: bytes 0x0A-0x0B
    in ax, dx
    call put_hex16
    EXPECT_EQ ax, 0x0601
    PRINT " header type "
    PCI_SELECT PCI_CFG(1, 0, 0x0c)
    mov dx, PCI_DATA + 2
    in al, dx
    call put_hex8
    EXPECT_EQ al, 0x80
    call put_crlf

    ; --- nothing there ---
    PRINT "00:1F.0 id "
    PCI_READ32 PCI_CFG(31, 0, 0x00)
    EXPECT_EQ eax, 0xffffffff
    PRINT ", enable bit clear "
    PCI_READ32 PCI_CFG(0, 0, 0x00) & 0x7fffffff
    EXPECT_EQ eax, 0xffffffff
    call put_crlf

    TEST_DONE

IMAGE_END
