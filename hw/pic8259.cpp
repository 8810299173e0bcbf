#include "hw/pic8259.h"

namespace janus {

namespace {
constexpr unsigned kCascadeIrq = 2;          // the slave's INT drives master input 2
constexpr uint8_t kMasterElcrWritable = 0xf8;  // IRQ 0, 1, 2 are always edge (PIIX)
constexpr uint8_t kSlaveElcrWritable = 0xde;   // IRQ 8 and 13 are always edge (PIIX)
}  // namespace

// --- One chip ---

void Pic8259::Chip::set_input(unsigned irq, bool level) {
  uint8_t bit = uint8_t(1u << irq);
  if (is_level(irq)) {
    irr = level ? (irr | bit) : (irr & ~bit);
  } else if (level && !(input_levels & bit)) {
    irr |= bit;  // rising edge; the request stays latched until acknowledged
  }
  input_levels = level ? (input_levels | bit) : (input_levels & ~bit);
}

int Pic8259::Chip::highest(uint8_t mask) const {
  int best = -1;
  for (unsigned irq = 0; irq < 8; ++irq)
    if ((mask >> irq & 1) && (best < 0 || rank(irq) < rank(unsigned(best)))) best = int(irq);
  return best;
}

int Pic8259::Chip::pending_irq(bool is_master) const {
  int irq = highest(irr & ~imr);
  if (irq < 0) return -1;
  uint8_t in_service = isr;
  // Special mask mode lets lower priorities through while a masked level is in service.
  if (special_mask) in_service &= ~imr;
  // Special fully nested mode lets a higher slave request nest inside a serviced slave one.
  if (is_master && special_fully_nested && !single) in_service &= uint8_t(~(1u << kCascadeIrq));
  int serviced = highest(in_service);
  if (serviced >= 0 && rank(unsigned(serviced)) <= rank(unsigned(irq))) return -1;
  return irq;
}

void Pic8259::Chip::end_of_interrupt(int irq, bool rotate) {
  if (irq < 0) return;
  isr &= uint8_t(~(1u << irq));
  if (rotate) lowest_priority = uint8_t(irq);
}

// --- The pair ---

Pic8259::Pic8259() { reset(); }

void Pic8259::reset() {
  master_ = Chip{};
  slave_ = Chip{};
  last_acknowledged_irq_ = -1;
  bool was = output_;
  output_ = false;
  if (was && output_hook_) output_hook_(false);
}

void Pic8259::set_irq(unsigned irq, bool level) {
  if (irq > 15 || irq == kCascadeIrq) return;
  chip(irq >= 8).set_input(irq & 7, level);
  update();
}

void Pic8259::update() {
  if (!master_.single) {
    uint8_t bit = 1u << kCascadeIrq;
    master_.irr = slave_.pending_irq(false) >= 0 ? (master_.irr | bit) : (master_.irr & ~bit);
  }
  bool out = master_.pending_irq(true) >= 0;
  if (out != output_) {
    output_ = out;
    if (output_hook_) output_hook_(out);
  }
}

int Pic8259::acknowledge_chip(Chip& c, bool is_master) {
  int irq = c.pending_irq(is_master);
  if (irq < 0) return -1;
  uint8_t bit = uint8_t(1u << irq);
  // An edge request is consumed; a level request stays in IRR while its line is high.
  if (!c.is_level(unsigned(irq))) c.irr &= ~bit;
  if (c.auto_eoi) {
    if (c.rotate_on_auto_eoi) c.lowest_priority = uint8_t(irq);
  } else {
    c.isr |= bit;
  }
  return irq;
}

uint8_t Pic8259::acknowledge() {
  uint8_t vector;
  int irq = acknowledge_chip(master_, true);
  if (irq < 0) {
    vector = master_.vector_base | 7;  // spurious: no ISR bit is set
  } else if (unsigned(irq) == kCascadeIrq && !master_.single) {
    int slave_irq = acknowledge_chip(slave_, false);
    vector = slave_.vector_base | uint8_t(slave_irq < 0 ? 7 : slave_irq);
    irq = slave_irq < 0 ? -1 : 8 + slave_irq;
  } else {
    vector = master_.vector_base | uint8_t(irq);
  }
  last_acknowledged_irq_ = irq;
  update();
  return vector;
}

uint8_t Pic8259::poll(bool slave) {
  Chip& c = chip(slave);
  c.poll = false;
  int irq = acknowledge_chip(c, !slave);
  update();
  return irq < 0 ? 0 : uint8_t(0x80 | irq);
}

void Pic8259::write_command(Chip& c, uint8_t value) {
  if (value & 0x10) {  // ICW1: start of initialisation
    c.imr = 0;
    c.isr = 0;
    c.lowest_priority = 7;
    c.special_mask = c.read_isr = c.poll = false;
    c.auto_eoi = c.rotate_on_auto_eoi = c.special_fully_nested = false;
    c.icw4_expected = value & 0x01;
    c.single = value & 0x02;
    c.level_all = value & 0x08;
    // The edge-sense latches are cleared; level inputs still high keep requesting.
    c.irr = c.input_levels & (c.level_all ? 0xff : c.elcr);
    c.init_step = 2;
    return;
  }
  if (value & 0x08) {  // OCW3
    if (value & 0x04) c.poll = true;
    if (value & 0x02) c.read_isr = value & 0x01;
    if (value & 0x40) c.special_mask = value & 0x20;
    return;
  }
  // OCW2: R, SL, EOI in bits 7:5, the IRQ level in bits 2:0.
  unsigned level = value & 7;
  switch (value >> 5) {
    case 0: c.rotate_on_auto_eoi = false; break;
    case 1: c.end_of_interrupt(c.highest(c.isr), false); break;  // non-specific EOI
    case 2: break;                                                // no operation
    case 3: c.end_of_interrupt(int(level), false); break;         // specific EOI
    case 4: c.rotate_on_auto_eoi = true; break;
    case 5: c.end_of_interrupt(c.highest(c.isr), true); break;    // rotate on non-specific EOI
    case 6: c.lowest_priority = uint8_t(level); break;            // set priority
    case 7: c.end_of_interrupt(int(level), true); break;          // rotate on specific EOI
  }
}

void Pic8259::write_data(Chip& c, uint8_t value) {
  switch (c.init_step) {
    case 2:  // ICW2: vector base
      c.vector_base = value & 0xf8;
      c.init_step = c.single ? (c.icw4_expected ? 4 : 0) : 3;
      break;
    case 3:  // ICW3: cascade wiring (fixed on a PC: slave on IRQ2)
      c.cascade = value;
      c.init_step = c.icw4_expected ? 4 : 0;
      break;
    case 4:  // ICW4: bit 0 (8086 mode) is assumed; buffered-mode bits do not matter here
      c.auto_eoi = value & 0x02;
      c.special_fully_nested = value & 0x10;
      c.init_step = 0;
      break;
    default:  // OCW1: interrupt mask
      c.imr = value;
      break;
  }
}

uint8_t Pic8259::read_port(bool slave, unsigned port) {
  Chip& c = chip(slave);
  if (port == 1) return c.imr;
  if (c.poll) return poll(slave);
  return c.read_isr ? c.isr : c.irr;
}

void Pic8259::write_port(bool slave, unsigned port, uint8_t value) {
  Chip& c = chip(slave);
  if (port == 0)
    write_command(c, value);
  else
    write_data(c, value);
  update();
}

// Wider accesses cover consecutive ports, as on the ISA bus; bytes past the range float high.
uint64_t Pic8259::Ports::read(uint64_t offset, unsigned size) {
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t port = offset + i;
    uint64_t byte = port < 2 ? pic_.read_port(slave_, unsigned(port)) : 0xff;
    value |= byte << (8 * i);
  }
  return value;
}

void Pic8259::Ports::write(uint64_t offset, unsigned size, uint64_t value) {
  for (unsigned i = 0; i < size && i < 8; ++i)
    if (offset + i < 2) pic_.write_port(slave_, unsigned(offset + i), uint8_t(value >> (8 * i)));
}

uint64_t Pic8259::ElcrPorts::read(uint64_t offset, unsigned size) {
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t port = offset + i;
    uint64_t byte = port < 2 ? pic_.chip(port == 1).elcr : 0xff;
    value |= byte << (8 * i);
  }
  return value;
}

void Pic8259::ElcrPorts::write(uint64_t offset, unsigned size, uint64_t value) {
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t port = offset + i;
    if (port >= 2) continue;
    Chip& c = pic_.chip(port == 1);
    c.elcr = uint8_t(value >> (8 * i)) & (port == 1 ? kSlaveElcrWritable : kMasterElcrWritable);
    // Inputs now level triggered request exactly while their line is high.
    c.irr = (c.irr & ~c.elcr) | (c.input_levels & c.elcr);
  }
  pic_.update();
}

}  // namespace janus
