#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hw/io_bus.h"
#include "hw/pc_layout.h"
#include "hw/uart16550.h"

using namespace janus;

namespace {

// Records every level change of every line.
struct RecordingIrqSink : IrqSink {
  std::vector<std::pair<unsigned, bool>> events;
  bool level[32] = {};
  void set_irq(unsigned gsi, bool l) override {
    events.push_back({gsi, l});
    level[gsi] = l;
  }
};

constexpr uint16_t kBase = layout::kPortCom1;
constexpr uint8_t THR = 0, RBR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6,
                  SCR = 7;

struct UartTest : ::testing::Test {
  RecordingIrqSink irqs;
  std::vector<uint8_t> sent;
  Uart16550 uart{[this](uint8_t b) { sent.push_back(b); }, IrqLine(&irqs, layout::kIrqCom1)};
  IoBus pio{"pio"};

  void SetUp() override { pio.map(kBase, Uart16550::kPortCount, uart, "com1"); }
  uint8_t in(uint8_t reg) { return uint8_t(pio.read(kBase + reg, 1)); }
  void out(uint8_t reg, uint8_t v) { pio.write(kBase + reg, 1, v); }
  bool irq() const { return irqs.level[layout::kIrqCom1]; }
};

TEST_F(UartTest, PowerOnState) {
  EXPECT_EQ(in(IIR), 0x01);          // no interrupt, FIFOs off
  EXPECT_EQ(in(LSR), 0x60);          // THRE and TEMT, no data
  EXPECT_EQ(in(IER), 0x00);
  EXPECT_EQ(in(MSR) & 0xf0, 0xb0);   // the host line is connected: CTS, DSR, DCD
  EXPECT_FALSE(irq());
}

TEST_F(UartTest, DivisorLatchIsReachedThroughDlab) {
  out(LCR, 0x80);  // DLAB
  out(DLL, 0x01);
  out(DLM, 0x00);
  EXPECT_EQ(uart.divisor(), 1);
  out(DLL, 0x0c);
  out(DLM, 0x03);
  EXPECT_EQ(uart.divisor(), 0x030c);
  EXPECT_EQ(in(DLL), 0x0c);
  EXPECT_EQ(in(DLM), 0x03);
  out(LCR, 0x03);  // 8N1, DLAB off
  EXPECT_EQ(in(LCR), 0x03);
  // With DLAB clear the same offsets are THR and IER again: the latch stays and bytes go out.
  out(THR, 'x');
  out(IER, 0x05);
  EXPECT_EQ(in(IER), 0x05);
  EXPECT_EQ(uart.divisor(), 0x030c);
  EXPECT_EQ(sent, std::vector<uint8_t>{'x'});
}

TEST_F(UartTest, TransmittedBytesReachTheSinkInOrder) {
  for (uint8_t b : std::vector<uint8_t>{'h', 'i', '\r', '\n', 0x00, 0xff}) out(THR, b);
  EXPECT_EQ(sent, (std::vector<uint8_t>{'h', 'i', '\r', '\n', 0x00, 0xff}));
  EXPECT_EQ(in(LSR) & 0x60, 0x60);  // instantaneous transmit: empty again
}

TEST_F(UartTest, ReceivedByteRaisesIrqOnlyWithRdaEnabledAndOut2) {
  ASSERT_TRUE(uart.receive('a'));
  EXPECT_EQ(in(LSR) & 0x01, 0x01);
  EXPECT_FALSE(irq());  // IER bit 0 clear
  out(IER, 0x01);
  EXPECT_FALSE(irq());  // OUT2 clear: the PC's IRQ buffer is off
  EXPECT_EQ(in(IIR), 0x04);  // but the chip itself reports RX data
  out(MCR, 0x08);
  EXPECT_TRUE(irq());
  EXPECT_EQ(in(RBR), 'a');
  EXPECT_FALSE(irq());
  EXPECT_EQ(in(LSR) & 0x01, 0x00);
  EXPECT_EQ(in(IIR), 0x01);
}

TEST_F(UartTest, FifoHoldsSixteenBytesThenOverruns) {
  out(FCR, 0x07);  // enable and clear
  EXPECT_EQ(in(IIR) & 0xc0, 0xc0);
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(uart.receive(uint8_t(i)));
  EXPECT_FALSE(uart.can_receive());
  EXPECT_FALSE(uart.receive(99));
  EXPECT_EQ(in(LSR) & 0x03, 0x03);  // DR and OE
  EXPECT_EQ(in(LSR) & 0x02, 0x00);  // OE cleared by the read
  for (int i = 0; i < 16; ++i) EXPECT_EQ(in(RBR), i);
  EXPECT_TRUE(uart.can_receive());
  EXPECT_EQ(in(LSR) & 0x01, 0);
}

TEST_F(UartTest, WithoutFifoTheReceiverHoldsOneByte) {
  ASSERT_TRUE(uart.receive(1));
  EXPECT_FALSE(uart.can_receive());
  EXPECT_FALSE(uart.receive(2));
  EXPECT_EQ(in(RBR), 1);
}

TEST_F(UartTest, FifoClearDropsReceivedBytes) {
  out(FCR, 0x01);
  uart.receive(1);
  uart.receive(2);
  out(FCR, 0x03);  // clear RX
  EXPECT_EQ(in(LSR) & 0x01, 0);
}

TEST_F(UartTest, TriggerLevelSelectsDataAvailableOverTimeout) {
  out(MCR, 0x08);
  out(IER, 0x01);
  out(FCR, 0x81);  // FIFO on, trigger at 8 bytes
  for (int i = 0; i < 7; ++i) uart.receive(uint8_t(i));
  EXPECT_EQ(in(IIR), 0xcc);  // below the trigger: character timeout
  EXPECT_TRUE(irq());
  uart.receive(7);
  EXPECT_EQ(in(IIR), 0xc4);  // at the trigger: RX data available
  for (int i = 0; i < 8; ++i) in(RBR);
  EXPECT_EQ(in(IIR), 0xc1);
  EXPECT_FALSE(irq());
}

TEST_F(UartTest, ThrEmptyInterruptIsArmedByIerWriteAndClearedByIirRead) {
  out(MCR, 0x08);
  out(IER, 0x02);
  EXPECT_TRUE(irq());
  EXPECT_EQ(in(IIR), 0x02);
  EXPECT_FALSE(irq());       // reading IIR acknowledged it
  EXPECT_EQ(in(IIR), 0x01);  // and it stays acknowledged
  out(IER, 0x02);            // rewriting IER re-arms it, as drivers expect
  EXPECT_EQ(in(IIR), 0x02);
  out(THR, 'z');             // each transmitted byte empties THR again
  EXPECT_TRUE(irq());
  EXPECT_EQ(in(IIR), 0x02);
  out(IER, 0x00);
  out(THR, 'y');
  EXPECT_FALSE(irq());
  EXPECT_EQ(in(IIR), 0x01);
}

TEST_F(UartTest, InterruptPriorities) {
  out(MCR, 0x08);
  out(IER, 0x0f);  // all four causes
  // THRE is pending from the IER write; add a modem-status change and RX data and an overrun.
  out(MCR, 0x08 | 0x10);  // entering loopback changes the modem inputs (deltas) ...
  out(MCR, 0x08);         // ... and leaving changes them back
  uart.receive('r');
  uart.receive('s');      // no FIFO: overrun
  EXPECT_EQ(in(IIR), 0x06);  // line status first
  in(LSR);
  EXPECT_EQ(in(IIR), 0x04);  // then received data
  in(RBR);
  EXPECT_EQ(in(IIR), 0x02);  // then THR empty (acknowledged by this read)
  EXPECT_EQ(in(IIR), 0x00);  // then modem status
  EXPECT_TRUE(irq());
  EXPECT_NE(in(MSR) & 0x0f, 0);  // deltas reported ...
  EXPECT_EQ(in(MSR) & 0x0f, 0);  // ... and cleared by the read
  EXPECT_EQ(in(IIR), 0x01);
  EXPECT_FALSE(irq());
}

TEST_F(UartTest, LoopbackWiresTxToRxAndModemOutputsToInputs) {
  out(MCR, 0x10);  // loopback, all outputs off
  EXPECT_EQ(in(MSR) & 0xf0, 0x00);
  out(MCR, 0x10 | 0x01);  // DTR -> DSR
  EXPECT_EQ(in(MSR), 0x20 | 0x02);  // DSR with its delta
  out(MCR, 0x10 | 0x02);  // RTS -> CTS (DSR drops)
  EXPECT_EQ(in(MSR), 0x10 | 0x03);
  out(MCR, 0x10 | 0x04);  // OUT1 -> RI
  EXPECT_EQ(in(MSR), 0x40 | 0x01);
  out(MCR, 0x10 | 0x08);  // OUT2 -> DCD; RI falling sets TERI
  EXPECT_EQ(in(MSR), 0x80 | 0x08 | 0x04);

  out(IER, 0x01);
  out(THR, 'L');
  EXPECT_TRUE(sent.empty());  // nothing leaves the chip
  EXPECT_EQ(in(LSR) & 0x01, 0x01);
  EXPECT_EQ(in(IIR), 0x04);   // the chip sees its interrupt...
  EXPECT_FALSE(irq());        // ...but OUT2 is forced off at the pin in loopback
  EXPECT_EQ(in(RBR), 'L');
}

TEST_F(UartTest, RxSpaceListenerRefillsFromAHostQueue) {
  std::vector<uint8_t> host_queue = {'a', 'b', 'c'};
  size_t next = 0;
  auto feed = [&] {
    while (next < host_queue.size() && uart.can_receive()) uart.receive(host_queue[next++]);
  };
  uart.set_rx_space_listener(feed);
  feed();  // no FIFO: one byte fits
  EXPECT_EQ(next, 1u);
  std::string got;
  while (in(LSR) & 0x01) got.push_back(char(in(RBR)));
  EXPECT_EQ(got, "abc");
}

TEST_F(UartTest, ScratchRegisterAndWideAccess) {
  out(SCR, 0x5a);
  EXPECT_EQ(in(SCR), 0x5a);
  // A 16-bit access is two byte cycles: LCR then MCR.
  pio.write(kBase + LCR, 2, 0x0b03);
  EXPECT_EQ(in(LCR), 0x03);
  EXPECT_EQ(in(MCR), 0x0b);
  EXPECT_EQ(pio.read(kBase + LCR, 2), 0x0b03u);
}

TEST_F(UartTest, ResetClearsStateAndLowersIrq) {
  out(MCR, 0x08);
  out(IER, 0x01);
  uart.receive(1);
  EXPECT_TRUE(irq());
  uart.reset();
  EXPECT_FALSE(irq());
  EXPECT_EQ(in(LSR), 0x60);
  EXPECT_EQ(in(IER), 0);
}

}  // namespace
