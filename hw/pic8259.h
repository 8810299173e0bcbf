// The PC's two cascaded Intel 8259A programmable interrupt controllers (master at 0x20-0x21,
// slave at 0xa0-0xa1 on master input 2) plus the PIIX edge/level control registers (ELCR,
// 0x4d0-0x4d1). Inputs are ISA IRQs 0-15; the output is the master's INTR line, which the
// LAPIC passes to the CPU through LINT0 in ExtINT (virtual wire) mode.
#pragma once
#include <cstdint>
#include <functional>

#include "hw/io_device.h"

namespace janus {

class Pic8259 {
 public:
  Pic8259();
  Pic8259(const Pic8259&) = delete;
  Pic8259& operator=(const Pic8259&) = delete;

  // Power-on state: both chips uninitialised, every IRQ unmasked, edge triggered.
  void reset();

  // Drives ISA input irq (0-15) to level. IRQ 2 is the internal cascade and is ignored here;
  // numbers above 15 are ignored.
  void set_irq(unsigned irq, bool level);

  // The master's INTR output: an unmasked request outranks everything in service.
  bool output() const { return output_; }

  // The CPU's interrupt-acknowledge cycle: returns the vector and moves the request into
  // service. With nothing left to deliver it answers the spurious vector (IRQ7, or IRQ15 when
  // the slave's request vanished), as the real chips do.
  uint8_t acknowledge();
  // The ISA IRQ (0-15) the last acknowledge() moved into service, or -1 if it was spurious.
  int last_acknowledged_irq() const { return last_acknowledged_irq_; }

  // Called with the new INTR level whenever it changes (the IrqChip feeds it to LINT0).
  void set_output_hook(std::function<void(bool)> hook) { output_hook_ = std::move(hook); }

  // Port ranges for the buses: master (2 ports), slave (2 ports), ELCR (2 ports: master, slave).
  IoDevice& master_ports() { return master_ports_; }
  IoDevice& slave_ports() { return slave_ports_; }
  IoDevice& elcr_ports() { return elcr_ports_; }

  // Read-only views for tests and debugging.
  uint8_t irr(bool slave) const { return chip(slave).irr; }
  uint8_t isr(bool slave) const { return chip(slave).isr; }
  uint8_t imr(bool slave) const { return chip(slave).imr; }
  uint8_t elcr(bool slave) const { return chip(slave).elcr; }

 private:
  // One 8259A.
  struct Chip {
    uint8_t irr = 0;            // requests waiting
    uint8_t isr = 0;            // requests being serviced
    uint8_t imr = 0;            // masked inputs
    uint8_t elcr = 0;           // 1 = level triggered (PIIX ELCR)
    uint8_t input_levels = 0;   // current line levels, for edge detection
    uint8_t vector_base = 0;    // ICW2 (bits 7:3)
    uint8_t lowest_priority = 7;  // rotation: this IRQ has the lowest priority
    uint8_t cascade = 0;        // ICW3 as written
    unsigned init_step = 0;     // 0 = operational; 2,3,4 = the next ICW expected on the data port
    bool icw4_expected = false;
    bool single = false;        // ICW1 SNGL: no cascade
    bool level_all = false;     // ICW1 LTIM: every input level triggered
    bool auto_eoi = false;      // ICW4 AEOI
    bool special_fully_nested = false;  // ICW4 SFNM
    bool rotate_on_auto_eoi = false;
    bool special_mask = false;  // OCW3 SMM
    bool read_isr = false;      // OCW3 RR/RIS: which register the command port reads
    bool poll = false;          // OCW3 P: next command port read is a poll

    bool is_level(unsigned irq) const { return level_all || (elcr >> irq & 1); }
    void set_input(unsigned irq, bool level);
    // Priority rank 0 (highest) .. 7 of irq under the current rotation.
    unsigned rank(unsigned irq) const { return (irq - lowest_priority - 1) & 7; }
    // The highest-priority IRQ set in mask, or -1.
    int highest(uint8_t mask) const;
    // The IRQ this chip would present on INT, or -1.
    int pending_irq(bool is_master) const;
    void end_of_interrupt(int irq, bool rotate);
  };

  class Ports final : public IoDevice {
   public:
    Ports(Pic8259& pic, bool slave) : pic_(pic), slave_(slave) {}
    uint64_t read(uint64_t offset, unsigned size) override;
    void write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    Pic8259& pic_;
    bool slave_;
  };

  class ElcrPorts final : public IoDevice {
   public:
    explicit ElcrPorts(Pic8259& pic) : pic_(pic) {}
    uint64_t read(uint64_t offset, unsigned size) override;
    void write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    Pic8259& pic_;
  };

  Chip& chip(bool slave) { return slave ? slave_ : master_; }
  const Chip& chip(bool slave) const { return slave ? slave_ : master_; }
  uint8_t read_port(bool slave, unsigned port);
  void write_port(bool slave, unsigned port, uint8_t value);
  void write_command(Chip& c, uint8_t value);
  void write_data(Chip& c, uint8_t value);
  // INTA on one chip: the IRQ taken (or -1 for none), with ISR/IRR/rotation updated.
  int acknowledge_chip(Chip& c, bool is_master);
  uint8_t poll(bool slave);
  void update();

  Chip master_, slave_;
  bool output_ = false;
  int last_acknowledged_irq_ = -1;
  std::function<void(bool)> output_hook_;
  Ports master_ports_{*this, false};
  Ports slave_ports_{*this, true};
  ElcrPorts elcr_ports_{*this};
};

}  // namespace janus
