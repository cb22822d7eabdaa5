// Optimises an instrumented module and writes its object file, as clang 14's
// backend (`clang -c -O<n> -x ir`) would: the same target options, the same
// new-pass-manager pipeline for the level, the same code generator.
//
// LLVM's C API cannot do this faithfully: LLVMCreateTargetMachine leaves
// TargetOptions at their defaults (static constructors in `.ctors` rather
// than `.init_array`, no relaxable GOT relocations, no address-significance
// table) and LLVMRunPasses cannot set the pipeline tuning clang derives
// from the level. The driver only calls this for flag sets whose backend
// effect is fully carried by the module (function attributes, module
// flags) or by the fields of LuccEmitOptions; any other flag makes it run
// clang instead.

#include <llvm-c/Core.h>
#include <llvm/ADT/Triple.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/Analysis/TargetTransformInfo.h>
#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Passes/StandardInstrumentations.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

using namespace llvm;

extern "C" {
// Mirrored in emit.rs.
struct LuccEmitOptions {
    // -O0..-O3; -Os and -Oz are level 2 with size_level 1 or 2, as in clang.
    unsigned opt_level;
    unsigned size_level;
    int function_sections;
    int data_sections;
    // clang's -cc1 turns call-site information on for optimised code with
    // (more than line-table) debug information asked for on the command
    // line: the module's own debug metadata does not tell.
    int call_site_info;
};
}

namespace {

char *copy_message(const std::string &s) {
    char *p = static_cast<char *>(std::malloc(s.size() + 1));
    if (p) std::memcpy(p, s.c_str(), s.size() + 1);
    return p;
}

// Any warning or error the backend reports (inline assembly that does not
// assemble, a loop the source demanded vectorised...) makes the caller hand
// the unit to clang, whose diagnostics carry source locations and honour
// -Werror; remarks the user did not ask for are filtered by LLVM already.
struct CollectingHandler : DiagnosticHandler {
    std::string *messages;
    explicit CollectingHandler(std::string *m) : messages(m) {}
    bool handleDiagnostics(const DiagnosticInfo &di) override {
        if (di.getSeverity() == DS_Error || di.getSeverity() == DS_Warning) {
            raw_string_ostream os(*messages);
            DiagnosticPrinterRawOStream printer(os);
            di.print(printer);
            os << "\n";
        }
        return true;
    }
};

// The frontend writes the CPU and features it was asked for (-march...)
// on every function; clang's backend gets the same through its flags.
void target_of(const Module &m, std::string &cpu, std::string &features) {
    for (const Function &f : m) {
        if (f.isDeclaration()) continue;
        if (f.hasFnAttribute("target-cpu")) cpu = f.getFnAttribute("target-cpu").getValueAsString().str();
        if (f.hasFnAttribute("target-features"))
            features = f.getFnAttribute("target-features").getValueAsString().str();
        return;
    }
}

OptimizationLevel pipeline_level(const LuccEmitOptions &o) {
    if (o.size_level == 1) return OptimizationLevel::Os;
    if (o.size_level >= 2) return OptimizationLevel::Oz;
    switch (o.opt_level) {
    case 0: return OptimizationLevel::O0;
    case 1: return OptimizationLevel::O1;
    case 2: return OptimizationLevel::O2;
    default: return OptimizationLevel::O3;
    }
}

CodeGenOpt::Level codegen_level(unsigned opt_level) {
    switch (opt_level) {
    case 0: return CodeGenOpt::None;
    case 1: return CodeGenOpt::Less;
    case 2: return CodeGenOpt::Default;
    default: return CodeGenOpt::Aggressive;
    }
}

// clang -cc1's defaults for an x86-64 Linux object (see `clang -###`:
// --mrelax-relocations, -faddrsig, -debugger-tuning=gdb, -mrelax-all at
// -O0), and the
// constructor section every ELF toolchain now expects.
TargetOptions clang_target_options(const LuccEmitOptions &o) {
    TargetOptions t;
    t.UseInitArray = true;
    t.RelaxELFRelocations = true;
    t.EmitAddrsig = true;
    t.DebuggerTuning = DebuggerKind::GDB;
    t.FunctionSections = o.function_sections != 0;
    t.DataSections = o.data_sections != 0;
    t.UniqueSectionNames = true;
    t.EmitCallSiteInfo = o.call_site_info != 0;
    t.MCOptions.MCUseDwarfDirectory = true;
    // clang's driver relaxes every branch at -O0 (-mrelax-all): quicker to assemble
    t.MCOptions.MCRelaxAll = o.opt_level == 0;
    return t;
}

// clang's PipelineTuningOptions for a level: unrolling and interleaving
// from -O2 (-Os and -Oz count as 2), loop vectorisation at -O2, -O3 and
// -Os, SLP vectorisation at -O2, -O3, -Os and -Oz.
PipelineTuningOptions clang_tuning(const LuccEmitOptions &o) {
    PipelineTuningOptions pto;
    bool from_o2 = o.opt_level >= 2;
    pto.LoopUnrolling = from_o2;
    pto.LoopInterleaving = from_o2;
    pto.LoopVectorization = from_o2 && o.size_level < 2;
    pto.SLPVectorization = from_o2;
    pto.MergeFunctions = false;
    pto.CallGraphProfile = true;
    return pto;
}

void optimise(Module &m, TargetMachine &tm, const TargetLibraryInfoImpl &tlii, const LuccEmitOptions &o) {
    LoopAnalysisManager lam;
    FunctionAnalysisManager fam;
    CGSCCAnalysisManager cgam;
    ModuleAnalysisManager mam;
    PassInstrumentationCallbacks pic;
    StandardInstrumentations si(false);
    si.registerCallbacks(pic, &fam);
    PassBuilder pb(&tm, clang_tuning(o), None, &pic);
    fam.registerPass([&] { return TargetLibraryAnalysis(tlii); });
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    OptimizationLevel level = pipeline_level(o);
    ModulePassManager mpm =
        o.opt_level == 0 ? pb.buildO0DefaultPipeline(level) : pb.buildPerModuleDefaultPipeline(level);
    mpm.run(m, mam);
}

} // namespace

// Returns 0 when `path` holds the object. Otherwise 1 and, in *message (to
// be freed with free()), why: the caller then lets clang compile the unit.
extern "C" int lucc_emit_object(LLVMModuleRef module_ref, const char *path, const LuccEmitOptions *o,
                                char **message) {
    static std::once_flag targets_ready;
    std::call_once(targets_ready, [] {
        InitializeNativeTarget();
        InitializeNativeTargetAsmPrinter();
        InitializeNativeTargetAsmParser();
    });
    Module &m = *unwrap(module_ref);
    std::string error;
    Triple triple(m.getTargetTriple());
    const Target *target = TargetRegistry::lookupTarget(triple.getTriple(), error);
    if (!target) {
        *message = copy_message("no LLVM target for " + triple.getTriple() + ": " + error);
        return 1;
    }
    std::string cpu, features;
    target_of(m, cpu, features);
    // The frontend recorded -fPIC/-fPIE (or their absence) as the module's
    // PIC level; clang's backend derives its relocation model from the
    // same flags.
    Reloc::Model reloc = m.getPICLevel() == PICLevel::NotPIC ? Reloc::Static : Reloc::PIC_;
    std::unique_ptr<TargetMachine> tm(target->createTargetMachine(
        triple.getTriple(), cpu, features, clang_target_options(*o), reloc, m.getCodeModel(),
        codegen_level(o->opt_level)));
    if (!tm) {
        *message = copy_message("cannot create a target machine for " + triple.getTriple());
        return 1;
    }
    m.setDataLayout(tm->createDataLayout());

    LLVMContext &ctx = m.getContext();
    std::string diagnostics;
    ctx.setDiagnosticHandler(std::make_unique<CollectingHandler>(&diagnostics), true);

    TargetLibraryInfoImpl tlii(triple);
    optimise(m, *tm, tlii, *o);
    if (!diagnostics.empty()) {
        *message = copy_message(diagnostics);
        return 1;
    }

    std::error_code ec;
    raw_fd_ostream out(path, ec, sys::fs::OF_None);
    if (ec) {
        *message = copy_message(std::string("cannot write ") + path + ": " + ec.message());
        return 1;
    }
    legacy::PassManager codegen;
    codegen.add(createTargetTransformInfoWrapperPass(tm->getTargetIRAnalysis()));
    codegen.add(new TargetLibraryInfoWrapperPass(tlii));
    // clang runs its backend with -disable-llvm-verifier; the passes verified
    // the instrumented module already
    if (tm->addPassesToEmitFile(codegen, out, nullptr, CGFT_ObjectFile, true)) {
        *message = copy_message("the target cannot emit object files");
        return 1;
    }
    codegen.run(m);
    out.close();
    if (out.has_error()) {
        out.clear_error();
        *message = copy_message(std::string("cannot write ") + path);
        return 1;
    }
    if (!diagnostics.empty()) {
        *message = copy_message(diagnostics);
        return 1;
    }
    return 0;
}
