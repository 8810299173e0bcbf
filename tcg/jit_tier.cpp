#include "tcg/jit_tier.h"

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PassManager.h>
#include <llvm/IR/PassTimingInfo.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Transforms/InstCombine/InstCombine.h>
#include <llvm/Transforms/Scalar/DeadStoreElimination.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/GVN.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>
#include <llvm/Transforms/Utils/Mem2Reg.h>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <vector>

#include "tcg/baseline_compiler.h"
#include "tcg/event_delivery.h"
#include "tcg/jit_lowering.h"

namespace janus::tcg {

namespace {

// Measured on the Linux boot and workload (bench/linux_vs_qemu.sh, 2 cores). Baseline code costs
// microseconds a block on the vCPU thread, so blocks leave the interpreter early; the compile
// thread then only optimises. LLVM's quick code (JANUS_JIT_BASELINE=0) costs about 0.5 ms of
// compile thread a block: lower thresholds keep it busy with code that runs too little to repay it.
struct Thresholds {
  uint32_t compile, tier_up;
};
constexpr Thresholds kBaselineDefaults{100, 30000};
constexpr Thresholds kLlvmQuickDefaults{3000, 100000};
constexpr size_t kMaxBatch = 16;  // blocks per LLVM module: the per-module costs are shared


// A count from the environment: unset gives the default; a value that is not a whole number
// below 2^32 is said once on stderr and gives the default too.
uint32_t env_count(const char* name, uint32_t fallback) {
  const char* v = std::getenv(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  const unsigned long n = std::strtoul(v, &end, 10);
  if (*v < '0' || *v > '9' || *end || errno || n > 0xffffffffull) {
    std::fprintf(stderr, "janus: %s=%s is not a count; using %u\n", name, v, fallback);
    return fallback;
  }
  return uint32_t(n);
}

// JANUS_LLVM_ARGS: LLVM's own command-line options, split at spaces (profiling the compile
// thread: -time-passes, -pass-remarks-missed=sdagisel). LLVM keeps the pointers. An option LLVM
// does not take is said on stderr and ends Janus (status 1), like a bad flag.
void pass_llvm_options(const char* args) {
  static std::vector<std::string> words;
  static std::vector<const char*> argv{"JANUS_LLVM_ARGS"};  // LLVM's messages start with it
  std::string word;
  for (const char* c = args;; ++c) {
    if (*c != ' ' && *c) {
      word += *c;
      continue;
    }
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
    if (!*c) break;
  }
  for (const std::string& w : words) argv.push_back(w.c_str());
  std::string errors;
  llvm::raw_string_ostream out(errors);
  if (llvm::cl::ParseCommandLineOptions(int(argv.size()), argv.data(), "", &out)) return;
  out.flush();
  errors = errors.substr(0, errors.find("  Try:"));  // LLVM's hint would suggest `--help`
  while (!errors.empty() && (errors.back() == '\n' || errors.back() == ' ')) errors.pop_back();
  std::fprintf(stderr, "janus: %s\n", errors.c_str());
  std::exit(1);
}

std::string text_of(llvm::Error e) {
  std::string s;
  llvm::handleAllErrors(std::move(e), [&](const llvm::ErrorInfoBase& info) { s += info.message(); });
  return s;
}

// A short function pipeline: the lowering leaves redundant loads of guest registers, dead flag
// stores and constant masks, which these passes remove. Built once, reused for every block.
// The quick level keeps the cheap passes only.
class Optimiser {
 public:
  explicit Optimiser(bool full) {
    pb_.registerModuleAnalyses(mam_);
    pb_.registerCGSCCAnalyses(cam_);
    pb_.registerFunctionAnalyses(fam_);
    pb_.registerLoopAnalyses(lam_);
    pb_.crossRegisterProxies(lam_, fam_, cam_, mam_);
    fpm_.addPass(llvm::PromotePass());
    fpm_.addPass(llvm::EarlyCSEPass(true));
    // InstCombine only for optimised code: on quick code it took 40% of the quick passes' time
    // without making code generation cheaper (measured over the Linux boot).
    if (full) fpm_.addPass(llvm::InstCombinePass());
    fpm_.addPass(llvm::SimplifyCFGPass());
    if (!full) return;
    fpm_.addPass(llvm::GVNPass());
    fpm_.addPass(llvm::DSEPass());
    fpm_.addPass(llvm::InstCombinePass());
    fpm_.addPass(llvm::SimplifyCFGPass());
  }
  void run(llvm::Module& module) {
    for (llvm::Function& f : module)
      if (!f.isDeclaration()) fpm_.run(f, fam_);
    fam_.clear();
    mam_.clear();
  }

 private:
  llvm::PassBuilder pb_;
  llvm::LoopAnalysisManager lam_;
  llvm::FunctionAnalysisManager fam_;
  llvm::CGSCCAnalysisManager cam_;
  llvm::ModuleAnalysisManager mam_;
  llvm::FunctionPassManager fpm_;
};

}  // namespace

// The machine code of one compiled module; freed when the last block using it goes. Freeing
// takes LLJIT's session lock, which the compile thread holds while generating code, so the
// vCPU thread only hands the tracker over and the compile thread removes it.
class ReleasedCode {
 public:
  void add(llvm::orc::ResourceTrackerSP tracker) {
    std::lock_guard lock(mutex_);
    trackers_.push_back(std::move(tracker));
  }
  void remove_all() {  // on the compiling thread (or when no other thread runs)
    std::vector<llvm::orc::ResourceTrackerSP> trackers;
    {
      std::lock_guard lock(mutex_);
      trackers.swap(trackers_);
    }
    for (auto& t : trackers) llvm::consumeError(t->remove());
  }

 private:
  std::mutex mutex_;
  std::vector<llvm::orc::ResourceTrackerSP> trackers_;
};

struct LlvmCode final : JitCode {
  ReleasedCode& released;
  llvm::orc::ResourceTrackerSP tracker;
  LlvmCode(ReleasedCode& r, llvm::orc::ResourceTrackerSP t) : released(r), tracker(std::move(t)) {}
  ~LlvmCode() override {
    if (tracker) released.add(std::move(tracker));
  }
};

// One compiler per level: quick (LLVM's fast instruction selector and register allocator, the
// cheap passes) for every hot block, optimised for the blocks that stay hot.
struct LevelCompiler {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  Optimiser optimiser;
  explicit LevelCompiler(bool full) : optimiser(full) {}
};

struct JitTier::Engine {
  ReleasedCode released;  // emptied by ~JitTier while the compilers still exist
  std::unique_ptr<LevelCompiler> levels[2];  // kQuick, kOptimised
  JitLayout layout;
  bool verify = false;
  uint64_t next_name = 0;
  // JANUS_JIT_PERFMAP=1: at exit, /tmp/perf-PID.map names each compiled block by its guest PC
  // (for `perf report`; a function's size is taken as the gap to the next one).
  bool perf_map = false;
  bool dump = false;  // JANUS_JIT_DUMP=1: print each optimised module (LLVM IR) on stderr
  std::vector<PerfMapEntry> functions;
  void write_perf_map();
};

void JitTier::Engine::write_perf_map() {
  std::sort(functions.begin(), functions.end());
  std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return;
  for (size_t i = 0; i < functions.size(); ++i) {
    const PerfMapEntry& e = functions[i];
    uint64_t size = i + 1 < functions.size() ? std::min<uint64_t>(functions[i + 1].host - e.host, 4096) : 4096;
    std::fprintf(f, "%llx %llx %s_%llx\n", static_cast<unsigned long long>(e.host), static_cast<unsigned long long>(size),
                 e.baseline ? "base" : "guest", static_cast<unsigned long long>(e.guest_pc));
  }
  std::fclose(f);
}

// What the compile thread needs of a block: its IR (copied: the block may go meanwhile) and where
// to leave the code.
struct JitTier::Job {
  IrBlock ir;
  uint32_t mode = 0;
  uint64_t linear_pc = 0;
  const Block* block = nullptr;  // only a constant in the code (its chain links); never read here
  std::shared_ptr<JitSlot> slot;
  int level = kQuick;
};

// The way in from C++: int enter(TcgCpu*, JitEntry) calls the block with compiled code's calling
// convention (preserve_none), saving the caller's registers here, once per entry from the run loop.
// Like compiled code it has no unwind tables: faults come back as TcgCpu::fault_pending.
// The way out of quick code: janus_leave_N returns BlockEnd N to enter's caller (JitLayout::leave).
struct Trampolines {
  int (*enter)(TcgCpu*, JitEntry) = nullptr;
  JitEntry leave[kBlockEnds] = {};
};
static llvm::Expected<Trampolines> compile_trampolines(llvm::orc::LLJIT& jit) {
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("janus_enter", *context);
  module->setDataLayout(jit.getDataLayout());
  llvm::IRBuilder<> b(*context);
  llvm::Type* i32 = b.getInt32Ty();
  llvm::PointerType* ptr = b.getPtrTy();
  auto* fn = llvm::Function::Create(llvm::FunctionType::get(i32, {ptr, ptr}, false), llvm::Function::ExternalLinkage,
                                    "janus_enter", *module);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  b.SetInsertPoint(llvm::BasicBlock::Create(*context, "entry", fn));
  llvm::CallInst* call = b.CreateCall(llvm::FunctionType::get(i32, {ptr}, false), fn->getArg(1), {fn->getArg(0)});
  call->setCallingConv(llvm::CallingConv::PreserveNone);
  b.CreateRet(call);
  for (int end = 0; end < kBlockEnds; ++end) {
    auto* leave = llvm::Function::Create(llvm::FunctionType::get(i32, {ptr}, false), llvm::Function::ExternalLinkage,
                                         "janus_leave_" + std::to_string(end), *module);
    leave->addFnAttr(llvm::Attribute::NoUnwind);
    leave->setCallingConv(llvm::CallingConv::PreserveNone);
    b.SetInsertPoint(llvm::BasicBlock::Create(*context, "entry", leave));
    b.CreateRet(b.getInt32(end));
  }
  if (llvm::Error err = jit.addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(context)))) return std::move(err);
  Trampolines t;
  auto address = jit.lookup("janus_enter");
  if (!address) return address.takeError();
  t.enter = address->toPtr<int (*)(TcgCpu*, JitEntry)>();
  for (int end = 0; end < kBlockEnds; ++end) {
    auto leave = jit.lookup("janus_leave_" + std::to_string(end));
    if (!leave) return leave.takeError();
    t.leave[end] = leave->toPtr<JitEntry>();
  }
  return t;
}

std::unique_ptr<JitTier> JitTier::create(const TcgCpu& cpu, JitEntry (*successor)(void*, const void*, uint32_t), void* context) {
  const bool baseline = env_count("JANUS_JIT_BASELINE", 1) != 0;
  const Thresholds defaults = baseline ? kBaselineDefaults : kLlvmQuickDefaults;
  const uint32_t threshold = env_count("JANUS_JIT_THRESHOLD", defaults.compile);
  if (threshold == 0) return nullptr;

  static std::once_flag targets;
  std::call_once(targets, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();  // the inline DIV (tcg/jit_lowering.cpp)
    if (const char* args = std::getenv("JANUS_LLVM_ARGS")) pass_llvm_options(args);
  });
  const uint32_t tier_up_runs = env_count("JANUS_JIT_TIERUP", defaults.tier_up);
  auto engine = std::make_unique<Engine>();
  for (int level : {kQuick, kOptimised}) {
    auto machine = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!machine) {
      std::fprintf(stderr, "janus: tcg: LLVM tier off: %s\n", text_of(machine.takeError()).c_str());
      return nullptr;
    }
    // Without a tier-up every block gets the optimised compiler at once.
    const bool quick = level == kQuick && tier_up_runs != 0;
    machine->setCodeGenOptLevel(quick ? llvm::CodeGenOptLevel::None : llvm::CodeGenOptLevel::Default);
    // No unwind tables are registered for compiled code (no exception crosses it): libgcc
    // would walk the list of registered tables, one per module, on every throw in the process.
    auto jit = llvm::orc::LLJITBuilder()
                   .setJITTargetMachineBuilder(std::move(*machine))
                   .setObjectLinkingLayerCreator([](llvm::orc::ExecutionSession& session, const llvm::Triple&) {
                     return std::make_unique<llvm::orc::ObjectLinkingLayer>(session);
                   })
                   .create();
    if (!jit) {
      std::fprintf(stderr, "janus: tcg: LLVM tier off: %s\n", text_of(jit.takeError()).c_str());
      return nullptr;
    }
    engine->levels[level] = std::make_unique<LevelCompiler>(!quick);
    engine->levels[level]->jit = std::move(*jit);
  }
  engine->layout = JitLayout::of(cpu);
  engine->layout.successor = successor;
  engine->layout.successor_context = context;
  engine->verify = env_count("JANUS_JIT_VERIFY", 0) != 0;
  engine->perf_map = env_count("JANUS_JIT_PERFMAP", 0) != 0;
  engine->dump = env_count("JANUS_JIT_DUMP", 0) != 0;
  auto trampolines = compile_trampolines(*engine->levels[kQuick]->jit);
  if (!trampolines) {
    std::fprintf(stderr, "janus: tcg: LLVM tier off: %s\n", text_of(trampolines.takeError()).c_str());
    return nullptr;
  }
  std::copy(std::begin(trampolines->leave), std::end(trampolines->leave), engine->layout.leave);
  const bool sync = env_count("JANUS_JIT_SYNC", 0) != 0;
  auto tier = std::unique_ptr<JitTier>(new JitTier(std::move(engine), threshold, sync, cpu.ctx.clock));
  tier->enter_ = trampolines->enter;
  tier->baseline_ = baseline && tier_up_runs != 0;
  if (tier_up_runs) {
    JitLayout& l = tier->engine_->layout;
    l.tier_up = [](void* self, const void* block) { static_cast<JitTier*>(self)->tier_up(*static_cast<const Block*>(block)); };
    l.tier_up_context = tier.get();
    l.tier_up_runs = tier_up_runs;
  }
  return tier;
}

JitTier::JitTier(std::unique_ptr<Engine> engine, uint32_t threshold, bool sync, const Clock& clock)
    : engine_(std::move(engine)), threshold_(threshold), sync_(sync), clock_(clock) {
  if (!sync_) {
    thread_ = std::thread([this] { compile_thread(); });
    pthread_setname_np(thread_.native_handle(), "janus-jit");  // tells it apart in top and perf
  }
}

JitTier::~JitTier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& q : queues_) q.clear();  // frees code still held by jobs, while LLJIT is alive
  engine_->released.remove_all();
  if (std::getenv("JANUS_LLVM_ARGS")) llvm::reportAndResetTimings();  // for -time-passes
  if (engine_->perf_map) {
    engine_->functions.insert(engine_->functions.end(), baseline_functions_.begin(), baseline_functions_.end());
    engine_->write_perf_map();
  }
}

void JitTier::set_jump_cache(const void* table) { engine_->layout.jump_cache = table; }

void JitTier::request(Block& block) {
  Job job{block.ir, block.key.mode, block.linear_pc, &block, std::make_shared<JitSlot>()};
  block.jit_slot = job.slot;
  if (baseline_ && block.code.cpu) {
    job.slot->countdown = engine_->layout.tier_up_runs;
    // Quick code from the baseline compiler, here and now: microseconds, not a wait in the queue.
    const auto start = std::chrono::steady_clock::now();
    BaselineResult r = compile_baseline(arena_, block, *block.code.cpu, engine_->layout, *job.slot);
    if (r.code) {
      if (engine_->perf_map) baseline_functions_.push_back({reinterpret_cast<uint64_t>(r.entry), block.linear_pc, true});
      job.slot->code = std::move(r.code);
      job.slot->entry.store(r.entry, std::memory_order_release);
      ++stats_.compiled;
      ++stats_.baseline;
      const auto ns = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
      stats_.compile_ns += ns;
      if (sync_) clock_.skip(ns);  // as for LLVM's synchronous compiles: timer tests stay exact
      return;
    }
  }
  enqueue(std::move(job));
}

void JitTier::tier_up(const Block& block) {
  Job job{block.ir, block.key.mode, block.linear_pc, &block, block.jit_slot};
  job.level = kOptimised;
  enqueue(std::move(job));
}

void JitTier::enqueue(Job job) {
  if (sync_) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<Job> one;
    one.push_back(std::move(job));
    compile(one);
    // The guest does not see the vCPU stand still while it compiles (timer tests stay exact).
    clock_.skip(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count()));
    return;
  }
  {
    std::lock_guard lock(mutex_);
    queues_[job.level].push_back(std::move(job));
  }
  wake_.notify_one();
}

void JitTier::compile_thread() {
  std::vector<Job> batch, dropped;
  for (;;) {
    dropped.clear();  // outside the lock: a dropped job may free code, which takes the lock
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queues_[kQuick].empty() || !queues_[kOptimised].empty(); });
      if (stopping_) return;
      // Newly hot blocks first: interpreted code is several times slower than quick code,
      // which is only somewhat slower than optimised code. Of them, the ones the interpreter
      // ran most while they waited (a block hot all through the boot must not wait behind
      // every block that turned hot after it), then the newest. Then tier-ups, oldest first.
      // One level per batch; jobs whose block is gone (only the job holds the slot) are dropped.
      const bool optimise = queues_[kQuick].empty();
      std::deque<Job>& q = queues_[optimise ? kOptimised : kQuick];
      if (!optimise) take_hottest(q, batch, dropped);
      while (optimise && !q.empty() && batch.size() < kMaxBatch) {
        (q.front().slot.use_count() > 1 ? batch : dropped).push_back(std::move(q.front()));
        q.pop_front();
      }
    }
    if (!batch.empty()) compile(batch);
    batch.clear();
  }
}

void JitTier::take_hottest(std::deque<Job>& q, std::vector<Job>& batch, std::vector<Job>& dropped) {
  // A snapshot of the counts (the vCPU keeps adding to them), largest first, newest on a tie.
  std::vector<std::pair<uint32_t, size_t>> order;
  order.reserve(q.size());
  for (size_t i = 0; i < q.size(); ++i) order.emplace_back(q[i].slot->waiting_runs.load(std::memory_order_relaxed), i);
  const size_t n = std::min(order.size(), kMaxBatch);
  std::partial_sort(order.begin(), order.begin() + ptrdiff_t(n), order.end(), std::greater<>());
  std::vector<bool> taken(q.size());
  for (size_t k = 0; k < n; ++k) {
    Job& job = q[order[k].second];
    (job.slot.use_count() > 1 ? batch : dropped).push_back(std::move(job));
    taken[order[k].second] = true;
  }
  size_t kept = 0;
  for (size_t i = 0; i < q.size(); ++i)
    if (!taken[i]) {
      if (kept != i) q[kept] = std::move(q[i]);
      ++kept;
    }
  q.resize(kept);
}

void JitTier::compile(std::vector<Job>& jobs) {
  const auto start = std::chrono::steady_clock::now();
  Engine& e = *engine_;
  const int level = jobs[0].level;
  LevelCompiler& compiler = *e.levels[level];
  const bool quick = level == kQuick && e.layout.tier_up;
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("blocks", *context);
  module->setDataLayout(compiler.jit->getDataLayout());
  module->setTargetTriple(compiler.jit->getTargetTriple().str());
  std::vector<std::string> names;
  for (const Job& job : jobs) {
    names.push_back("block" + std::to_string(e.next_name++));
    lower_block(*module, LowerTarget{job.ir, job.mode, job.linear_pc, job.block, job.slot.get(), quick}, e.layout, names.back());
  }
  auto fail = [&](const std::string& why) {
    if (stats_.failed.fetch_add(jobs.size()) == 0)
      std::fprintf(stderr, "janus: tcg: LLVM tier: blocks at %#llx... stay interpreted: %s\n",
                   static_cast<unsigned long long>(jobs[0].linear_pc), why.c_str());
  };
  if (e.verify) {
    std::string errors;
    llvm::raw_string_ostream out(errors);
    if (llvm::verifyModule(*module, &out)) return fail("invalid LLVM IR: " + out.str());
  }
  const auto optimise_start = std::chrono::steady_clock::now();
  compiler.optimiser.run(*module);
  const auto codegen_start = std::chrono::steady_clock::now();
  if (e.dump) module->print(llvm::errs(), nullptr);

  e.released.remove_all();
  auto code = std::make_shared<LlvmCode>(e.released, compiler.jit->getMainJITDylib().createResourceTracker());
  if (llvm::Error err = compiler.jit->addIRModule(code->tracker, llvm::orc::ThreadSafeModule(std::move(module), std::move(context))))
    return fail(text_of(std::move(err)));
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto address = compiler.jit->lookup(names[i]);
    if (!address) return fail(text_of(address.takeError()));
    if (e.perf_map) e.functions.push_back({address->getValue(), jobs[i].linear_pc, false});
    (level == kQuick ? jobs[i].slot->code : jobs[i].slot->optimised_code) = code;
    jobs[i].slot->entry.store(address->toPtr<JitEntry>(), std::memory_order_release);
    if (level == kOptimised) jobs[i].slot->optimised.store(true, std::memory_order_release);
  }
  (level == kQuick ? stats_.compiled : stats_.optimised) += jobs.size();
  const auto end = std::chrono::steady_clock::now();
  auto ns = [](auto d) { return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()); };
  stats_.compile_ns += ns(end - start);
  stats_.optimise_ns += ns(codegen_start - optimise_start);
  stats_.codegen_ns += ns(end - codegen_start);
}

BlockEnd JitTier::execute(TcgCpu& cpu, const Block& block) const {
  cpu.stop_block = false;
  const BlockEnd end = BlockEnd(enter_(&cpu, block.jit));
  if (!cpu.fault_pending) [[likely]] return end;
  // The compiled code set RIP and jit_insn to the faulting instruction before the access or
  // helper; nothing of that instruction was committed.
  cpu.fault_pending = false;
  cpu.stats.instructions += cpu.jit_insn;
  cpu.jit_last_block = &block;  // the run loop's block: the chain went no further
  ++cpu.stats.exceptions;
  deliver_fault(cpu, cpu.pending_fault);
  return BlockEnd::kUnchained;
}

}  // namespace janus::tcg
