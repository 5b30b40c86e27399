// vkgrad's companion to Kompute (kp 0.9.0): a recorded "program" of dispatches
// and pipeline barriers that kp's Sequence.record accepts as an OpBase, and a
// query of the device limits kp does not expose.
//
// kp's Python binding has no memory barrier and binds push constants and the
// workgroup count per Algorithm object; this op records vkCmdDispatch with
// per-dispatch push constants and workgroup counts, and a real
// compute->compute barrier only where the Python side asks for one.
// Standard and Vulkan headers first, so the access trick below touches only kp's classes.
#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>
#include <kompute/Core.hpp>
#include <kompute/logger/Logger.hpp>
#define private public  // reach kp::Algorithm's pipeline, layout and descriptor set
#define protected public
#include <kompute/Algorithm.hpp>
#include <kompute/Sequence.hpp>
#include <kompute/operations/OpBase.hpp>
#undef private
#undef protected

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include <sched.h>
#include <sys/types.h>

namespace py = pybind11;

namespace {

struct Cmd {
    int kind;  // 0 dispatch, 1 compute barrier, 2 to-host barrier, 3 from-host barrier, 4 copy
    std::shared_ptr<kp::Algorithm> algo;
    uint32_t wg[3];
    std::vector<uint32_t> push;
    vk::DescriptorSet set;  // this dispatch's operand ranges
    std::shared_ptr<kp::Algorithm> buf_of;  // copy: buffers of this algorithm's first tensor
    uint64_t src = 0, dst = 0, size = 0;
    bool src_staging = false, dst_staging = false;  // its host-visible staging copy, else primary
};

constexpr uint32_t kSetsPerPool = 256, kMaxBindings = 32;  // adam_multi8: 8 x (p, g, m, v)
constexpr uint32_t kMaxTexelBindings = 8;  // rnn_cell_tx: 5

// Shaders that read some operands through uniform texel buffers (texelFetch)
// instead of storage buffers: lavapipe turns a texel fetch into one vector
// gather, where it loads a storage buffer lane by lane behind a branch per lane
// (measured: a vec4 fetch 4-5x cheaper; matmul_sg 1.7x faster).  kp builds every
// pipeline for storage buffers only, so set_texel_layout rebuilds such an
// algorithm's set layout and pipeline; the format of each texel binding (0 for
// a storage buffer) is kept here, by algorithm.
struct TexelLayout {
    std::weak_ptr<kp::Algorithm> algo;  // the entry is stale once this expires
    std::vector<vk::Format> formats;
};
std::unordered_map<const kp::Algorithm*, TexelLayout> g_texel_layouts;

const std::vector<vk::Format>* texel_formats(const std::shared_ptr<kp::Algorithm>& a) {
    if (g_texel_layouts.empty()) return nullptr;
    auto it = g_texel_layouts.find(a.get());
    if (it == g_texel_layouts.end()) return nullptr;
    if (it->second.algo.lock() != a) {  // an earlier algorithm at the same address
        g_texel_layouts.erase(it);
        return nullptr;
    }
    return &it->second.formats;
}

uint64_t texel_bytes(vk::Format f) {
    switch (f) {
        case vk::Format::eR32G32B32A32Sfloat:
        case vk::Format::eR32G32B32A32Uint: return 16;
        case vk::Format::eR32G32Uint: return 8;
        case vk::Format::eR32Sfloat:
        case vk::Format::eR32Uint: return 4;
        default: throw std::runtime_error("vkgrad: unsupported texel buffer format " + vk::to_string(f));
    }
}

// Rebuild `a` (made by kp with storage-buffer bindings and a placeholder shader)
// for `spirv`, whose bindings i with formats[i] != 0 are uniform texel buffers
// of that VkFormat.
void set_texel_layout(std::shared_ptr<kp::Algorithm> a, py::bytes spirv, std::vector<int> formats) {
    if (!a || !a->mPipeline) throw std::runtime_error("vkgrad set_texel_layout: no algorithm");
    if (formats.size() != a->mTensors.size())
        throw std::runtime_error("vkgrad set_texel_layout: " + std::to_string(formats.size()) + " formats for " +
                                 std::to_string(a->mTensors.size()) + " bindings");
    TexelLayout lay{a, {}};
    uint32_t texels = 0;
    std::vector<vk::DescriptorSetLayoutBinding> bindings;
    for (size_t i = 0; i < formats.size(); i++) {
        vk::Format f = static_cast<vk::Format>(formats[i]);
        if (formats[i]) (void)texel_bytes(f), texels++;
        lay.formats.push_back(f);
        bindings.emplace_back((uint32_t)i, formats[i] ? vk::DescriptorType::eUniformTexelBuffer
                                                       : vk::DescriptorType::eStorageBuffer,
                              1, vk::ShaderStageFlagBits::eCompute);
    }
    if (texels > kMaxTexelBindings) throw std::runtime_error("vkgrad set_texel_layout: too many texel bindings");
    std::string code = spirv;
    if (code.size() % 4) throw std::runtime_error("vkgrad set_texel_layout: SPIR-V size is not a multiple of 4");
    // the new objects first (on failure they are released and `a` is unchanged),
    // then the placeholder's are replaced (kp destroys the new ones with `a`)
    auto& dev = *a->mDevice;
    vk::ShaderModule sm;
    vk::DescriptorSetLayout dsl;
    vk::PipelineLayout pl;
    try {
        sm = dev.createShaderModule(
            vk::ShaderModuleCreateInfo(vk::ShaderModuleCreateFlags(), code.size(), (const uint32_t*)code.data()));
        dsl = dev.createDescriptorSetLayout(vk::DescriptorSetLayoutCreateInfo(
            vk::DescriptorSetLayoutCreateFlags(), (uint32_t)bindings.size(), bindings.data()));
        vk::PipelineLayoutCreateInfo pli(vk::PipelineLayoutCreateFlags(), 1, &dsl);
        vk::PushConstantRange pcr(vk::ShaderStageFlagBits::eCompute, 0,
                                  a->mPushConstantsDataTypeMemorySize * a->mPushConstantsSize);
        if (pcr.size) pli.setPushConstantRangeCount(1), pli.setPPushConstantRanges(&pcr);
        pl = dev.createPipelineLayout(pli);
        std::vector<vk::SpecializationMapEntry> entries;
        uint32_t w = a->mSpecializationConstantsDataTypeMemorySize;
        for (uint32_t i = 0; i < a->mSpecializationConstantsSize; i++) entries.emplace_back(i, w * i, w);
        vk::SpecializationInfo spec((uint32_t)entries.size(), entries.data(), w * a->mSpecializationConstantsSize,
                                    a->mSpecializationConstantsData);
        vk::PipelineShaderStageCreateInfo stage(vk::PipelineShaderStageCreateFlags(),
                                                vk::ShaderStageFlagBits::eCompute, sm, "main", &spec);
        auto r = dev.createComputePipeline(*a->mPipelineCache, vk::ComputePipelineCreateInfo(
                                                                     vk::PipelineCreateFlags(), stage, pl));
        if (r.result != vk::Result::eSuccess)
            throw std::runtime_error("vkgrad set_texel_layout: pipeline creation failed: " + vk::to_string(r.result));
        dev.destroy(*a->mPipeline);
        *a->mPipeline = r.value;
    } catch (...) {
        if (pl) dev.destroy(pl);
        if (dsl) dev.destroy(dsl);
        if (sm) dev.destroy(sm);
        throw;
    }
    dev.destroy(*a->mPipelineLayout);
    dev.destroy(*a->mDescriptorSetLayout);
    dev.destroy(*a->mShaderModule);
    *a->mPipelineLayout = pl;
    *a->mDescriptorSetLayout = dsl;
    *a->mShaderModule = sm;
    g_texel_layouts[a.get()] = std::move(lay);
}

// Give the buffer of an arena (the first tensor of `holder`) the usage a
// uniform texel buffer view needs: kp creates it for storage and transfers
// only.  A new buffer with the extra usage is bound to the same memory (its
// contents stay); false, and nothing changed, where the device would need
// other memory for it.
bool add_texel_usage(std::shared_ptr<kp::Algorithm> holder) {
    auto& t = *holder->mTensors[0];
    auto& dev = *holder->mDevice;
    auto old_req = dev.getBufferMemoryRequirements(*t.mPrimaryBuffer);
    vk::BufferCreateInfo bi(vk::BufferCreateFlags(), (uint64_t)t.mSize * t.mDataTypeMemorySize,
                            vk::BufferUsageFlagBits::eStorageBuffer | vk::BufferUsageFlagBits::eTransferSrc |
                                vk::BufferUsageFlagBits::eTransferDst | vk::BufferUsageFlagBits::eUniformTexelBuffer);
    vk::Buffer nb = dev.createBuffer(bi);
    auto req = dev.getBufferMemoryRequirements(nb);
    if (req.size > old_req.size || (req.memoryTypeBits & old_req.memoryTypeBits) != old_req.memoryTypeBits) {
        dev.destroy(nb);
        return false;
    }
    dev.bindBufferMemory(nb, *t.mPrimaryMemory, 0);
    dev.destroy(*t.mPrimaryBuffer);
    *t.mPrimaryBuffer = nb;
    return true;
}

// Each dispatch gets its own descriptor set (from pools this program owns)
// binding every operand to its exact range of the arena, so that the driver
// and the validation layer see which bytes each dispatch touches.
class OpProgram : public kp::OpBase {
  public:
    std::vector<Cmd> cmds;
    size_t dispatches = 0, barriers = 0;
    std::shared_ptr<vk::Device> device;
    std::vector<vk::DescriptorPool> pools;
    // one algorithm per arena, for its buffer: operands name their arena by index
    std::vector<std::shared_ptr<kp::Algorithm>> arenas;
    size_t pool_index = 0;   // pool sets are taken from
    uint32_t used_in_pool = 0;

    std::vector<vk::BufferView> views;  // texel views of this program's dispatches

    ~OpProgram() override {
        if (device) {
            for (auto& v : views) device->destroyBufferView(v);
            for (auto& p : pools) device->destroyDescriptorPool(p);
        }
    }

    vk::DescriptorSet new_set(kp::Algorithm* a) {
        if (pools.empty() || used_in_pool == kSetsPerPool) {
            if (!pools.empty()) pool_index++;
            if (pool_index == pools.size()) {
                vk::DescriptorPoolSize sizes[2] = {
                    {vk::DescriptorType::eStorageBuffer, kSetsPerPool * kMaxBindings},
                    {vk::DescriptorType::eUniformTexelBuffer, kSetsPerPool * kMaxTexelBindings}};
                vk::DescriptorPoolCreateInfo info(vk::DescriptorPoolCreateFlags(), kSetsPerPool, 2, sizes);
                pools.push_back(device->createDescriptorPool(info));
            }
            used_in_pool = 0;
        }
        used_in_pool++;
        vk::DescriptorSetAllocateInfo ai(pools[pool_index], 1, a->mDescriptorSetLayout.get());
        return device->allocateDescriptorSets(ai)[0];
    }

    size_t dispatch(std::shared_ptr<kp::Algorithm> algo, uint32_t x, uint32_t y, uint32_t z,
                    const std::vector<uint32_t>& push, const std::vector<uint64_t>& ranges,
                    const std::vector<uint32_t>& arena_ids) {
        if (!algo || !algo->mPipeline)
            throw std::runtime_error("vkgrad program: dispatch of a destroyed algorithm");
        if (x == 0 || y == 0 || z == 0)
            throw std::runtime_error("vkgrad program: empty workgroup count");
        size_t nb = algo->mTensors.size();
        if ((size_t)ranges.size() != 2 * nb || arena_ids.size() != nb || nb > kMaxBindings)
            throw std::runtime_error("vkgrad program: expected (offset, range) and an arena for each of the " +
                                     std::to_string(nb) + " bindings");
        for (uint32_t a : arena_ids)
            if (a >= arenas.size()) throw std::out_of_range("vkgrad program: unknown arena " + std::to_string(a));
        Cmd c{0, std::move(algo), {x, y, z}, {}, {}};
        c.push = push;
        if (c.push.size() * 4 != c.algo->mPushConstantsSize * c.algo->mPushConstantsDataTypeMemorySize)
            throw std::runtime_error("vkgrad program: push-constant block size mismatch");
        if (!device) device = c.algo->mDevice;
        c.set = new_set(c.algo.get());
        std::vector<vk::DescriptorBufferInfo> infos(nb);
        std::vector<vk::WriteDescriptorSet> writes(nb);
        const uint64_t* r = ranges.data();
        const std::vector<vk::Format>* fmt = texel_formats(c.algo);
        std::vector<vk::BufferView> made(fmt ? nb : 0);
        for (size_t i = 0; i < nb; i++) {
            vk::Buffer buf = *arenas[arena_ids[i]]->mTensors[0]->mPrimaryBuffer;
            if (fmt && (*fmt)[i] != vk::Format::eUndefined) {  // a view of whole texels (blocks are 64-byte aligned)
                uint64_t tb = texel_bytes((*fmt)[i]);
                made[i] = device->createBufferView(vk::BufferViewCreateInfo(
                    vk::BufferViewCreateFlags(), buf, (*fmt)[i], r[2 * i], (r[2 * i + 1] + tb - 1) / tb * tb));
                views.push_back(made[i]);  // owned (destroyed) by the program from here
                writes[i] = vk::WriteDescriptorSet(c.set, (uint32_t)i, 0, 1, vk::DescriptorType::eUniformTexelBuffer,
                                                   nullptr, nullptr, &made[i]);
            } else {
                infos[i] = vk::DescriptorBufferInfo(buf, r[2 * i], r[2 * i + 1]);
                writes[i] = vk::WriteDescriptorSet(c.set, (uint32_t)i, 0, 1, vk::DescriptorType::eStorageBuffer,
                                                   nullptr, &infos[i], nullptr);
            }
        }
        device->updateDescriptorSets(writes, nullptr);
        cmds.push_back(std::move(c));
        dispatches++;
        return cmds.size() - 1;
    }

    // New push constants for a recorded dispatch (a replayed step's per-step
    // scalars: learning rate, Adam's bias corrections, dropout seeds).
    void set_push(size_t index, const std::vector<uint32_t>& push) {
        if (index >= cmds.size() || cmds[index].kind != 0)
            throw std::out_of_range("vkgrad program: no dispatch at index " + std::to_string(index));
        if (push.size() != cmds[index].push.size())
            throw std::runtime_error("vkgrad program: push-constant block size mismatch");
        cmds[index].push = push;
    }

    // vkCmdCopyBuffer between ranges of the arena bound to an algorithm: within
    // its device buffer, or between that and its staging buffer (uploads and
    // downloads of a device-local arena).  An Algorithm, not a kp.Tensor,
    // because kp::Tensor's RTTI is not exported from kp's module.
    void copy(std::shared_ptr<kp::Algorithm> a, uint64_t src, uint64_t dst, uint64_t size,
              bool src_staging, bool dst_staging) {
        if ((src_staging || dst_staging) && !a->mTensors[0]->mStagingBuffer)
            throw std::runtime_error("vkgrad program: this arena has no staging buffer");
        Cmd c{4, nullptr, {0, 0, 0}, {}, {}, std::move(a), src, dst, size, src_staging, dst_staging};
        cmds.push_back(std::move(c));
    }

    void barrier(int kind) {
        cmds.push_back(Cmd{kind, nullptr, {0, 0, 0}, {}, {}});
        barriers++;
    }

    // Forget the commands but keep the descriptor pools (reset, not destroyed),
    // so a program reused step after step creates no Vulkan objects.
    void clear() {
        cmds.clear();
        if (device) {
            for (auto& p : pools) device->resetDescriptorPool(p);
            for (auto& v : views) device->destroyBufferView(v);
        }
        views.clear();
        pool_index = 0;
        used_in_pool = 0;
        dispatches = barriers = 0;
    }

    void record(const vk::CommandBuffer& cb) override {
        kp::Algorithm* bound = nullptr;
        for (auto& c : cmds) {
            if (c.kind == 0) {
                kp::Algorithm* a = c.algo.get();
                if (a != bound) {
                    cb.bindPipeline(vk::PipelineBindPoint::eCompute, *a->mPipeline);
                    bound = a;
                }
                cb.bindDescriptorSets(vk::PipelineBindPoint::eCompute, *a->mPipelineLayout, 0, c.set,
                                      nullptr);
                if (!c.push.empty())
                    cb.pushConstants(*a->mPipelineLayout, vk::ShaderStageFlagBits::eCompute, 0,
                                     (uint32_t)(c.push.size() * 4), c.push.data());
                cb.dispatch(c.wg[0], c.wg[1], c.wg[2]);
            } else if (c.kind == 4) {
                vk::BufferCopy region(c.src, c.dst, c.size);
                auto& t = *c.buf_of->mTensors[0];
                cb.copyBuffer(c.src_staging ? *t.mStagingBuffer : *t.mPrimaryBuffer,
                              c.dst_staging ? *t.mStagingBuffer : *t.mPrimaryBuffer, 1, &region);
            } else {
                vk::PipelineStageFlags src, dst;
                vk::AccessFlags sa, da;
                if (c.kind == 1) {  // dependent dispatches: writes visible to later reads/writes
                    src = dst = vk::PipelineStageFlagBits::eComputeShader |
                                vk::PipelineStageFlagBits::eTransfer;
                    sa = vk::AccessFlagBits::eShaderWrite | vk::AccessFlagBits::eShaderRead |
                         vk::AccessFlagBits::eTransferWrite;
                    da = vk::AccessFlagBits::eShaderRead | vk::AccessFlagBits::eShaderWrite |
                         vk::AccessFlagBits::eTransferRead | vk::AccessFlagBits::eTransferWrite;
                } else if (c.kind == 2) {  // end of a batch: make results visible to the host
                    src = vk::PipelineStageFlagBits::eComputeShader | vk::PipelineStageFlagBits::eTransfer;
                    dst = vk::PipelineStageFlagBits::eHost;
                    sa = vk::AccessFlagBits::eShaderWrite | vk::AccessFlagBits::eTransferWrite;
                    da = vk::AccessFlagBits::eHostRead;
                } else {  // start of a replayed batch: host writes (uploads) before shader reads
                    src = vk::PipelineStageFlagBits::eHost;
                    dst = vk::PipelineStageFlagBits::eComputeShader;
                    sa = vk::AccessFlagBits::eHostWrite;
                    da = vk::AccessFlagBits::eShaderRead;
                }
                vk::MemoryBarrier mb(sa, da);
                cb.pipelineBarrier(src, dst, vk::DependencyFlags(), mb, nullptr, nullptr);
            }
        }
    }
    void preEval(const vk::CommandBuffer&) override {}
    void postEval(const vk::CommandBuffer&) override {}
};

// Submits programs on the queue of a kp.Sequence (used only for its device
// and queue).  Four slots, each a command pool, buffer and fence kept and
// reset, so a submission creates no Vulkan objects: slots 0 and 1 take
// asynchronous submissions (a step's program runs while Python records the
// next one into the other program), slots 2 and 3 the two recordings of a
// captured step, replayed in turn.  Waits
// release the GIL, so other Python threads (other devices) run meanwhile.
class Submitter {
  public:
    struct Slot {
        vk::CommandPool pool;
        vk::CommandBuffer cb;
        vk::Fence fence;
        bool busy = false;
        bool timed = false;  // the last submission wrote timestamps 2i, 2i + 1
    };
    std::shared_ptr<vk::Device> dev;
    std::shared_ptr<vk::Queue> queue;
    static constexpr int kSlots = 4;
    Slot slots[kSlots];
    // Device timestamps around each submission, when asked for (set_timing): the
    // benchmark's clock.  A GPU runs a kernel in less time than the host takes to
    // submit and wait, so the wall clock cannot time it.
    vk::QueryPool qpool;
    bool timing = false;
    double period_ns = 0.0;
    uint64_t ts_mask = 0;

    explicit Submitter(std::shared_ptr<kp::Sequence> seq) : dev(seq->mDevice), queue(seq->mComputeQueue) {
        if (!dev || !queue) throw std::runtime_error("vkgrad Submitter: sequence has no device/queue");
        for (auto& s : slots) {
            s.pool = dev->createCommandPool(vk::CommandPoolCreateInfo(vk::CommandPoolCreateFlags(), seq->mQueueIndex));
            s.cb = dev->allocateCommandBuffers(vk::CommandBufferAllocateInfo(s.pool, vk::CommandBufferLevel::ePrimary, 1))[0];
            s.fence = dev->createFence(vk::FenceCreateInfo());
        }
        if (seq->mPhysicalDevice) {
            auto families = seq->mPhysicalDevice->getQueueFamilyProperties();
            uint32_t bits = seq->mQueueIndex < families.size() ? families[seq->mQueueIndex].timestampValidBits : 0;
            period_ns = seq->mPhysicalDevice->getProperties().limits.timestampPeriod;
            if (bits > 0 && period_ns > 0) {
                ts_mask = bits >= 64 ? ~uint64_t(0) : ((uint64_t(1) << bits) - 1);
                qpool = dev->createQueryPool(vk::QueryPoolCreateInfo(vk::QueryPoolCreateFlags(),
                                                                     vk::QueryType::eTimestamp, 2 * kSlots));
            }
        }
    }
    ~Submitter() {
        try {
            wait_all();
        } catch (...) {
        }
        for (auto& s : slots) {
            dev->destroyFence(s.fence);
            dev->destroyCommandPool(s.pool);
        }
        if (qpool) dev->destroyQueryPool(qpool);
    }

    // Waits first poll the fence for up to spin_ns before blocking in the driver (0: block
    // at once).  A blocked waiter is woken by the driver, which on a GPU can take longer
    // than a small step's work; polling keeps a core busy meanwhile, so never on a CPU
    // device, whose threads need the cores (set from Python: VKGRAD_FENCE_SPIN_US).
    int64_t spin_ns = 0;
    void set_spin_us(int us) { spin_ns = int64_t(std::max(us, 0)) * 1000; }

    // Time later submissions with device timestamps (false where the queue has none).
    bool set_timing(bool on) {
        timing = on && bool(qpool);
        return timing;
    }
    // Seconds the device spent on slot i's last submission (waited for first), or
    // -1 if it was not timed.
    double elapsed(int i) {
        Slot& s = slot(i);
        wait(i, false);
        if (!s.timed) return -1.0;
        uint64_t t[2] = {0, 0};
        vk::Result r = dev->getQueryPoolResults(qpool, 2 * i, 2, sizeof(t), t, sizeof(uint64_t),
                                                vk::QueryResultFlagBits::e64 | vk::QueryResultFlagBits::eWait);
        if (r != vk::Result::eSuccess) return -1.0;
        return double((t[1] - t[0]) & ts_mask) * period_ns * 1e-9;
    }

    Slot& slot(int i) {
        if (i < 0 || i >= kSlots) throw std::out_of_range("vkgrad Submitter: no slot " + std::to_string(i));
        return slots[i];
    }

    // A CPU device (lavapipe) runs submissions on its own threads.  Woken by a
    // submit, the kernel tends to place such a thread on the submitting thread's
    // core, where it waits behind the Python thread recording the next step:
    // device and host then take turns instead of overlapping (measured on 2
    // cores: eager iris step 1.7 ms -> 0.85 ms when kept apart).  So while the
    // host thread runs, the driver's threads may use every allowed core but the
    // one it is on; when the host blocks on a fence they get all cores back.
    std::vector<pid_t> driver_threads;
    cpu_set_t all_cpus;
    int excluded_cpu = -1;

    void set_driver_threads(std::vector<int> tids) {
        release_cpus();
        driver_threads.assign(tids.begin(), tids.end());
        CPU_ZERO(&all_cpus);
        if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus) != 0 || CPU_COUNT(&all_cpus) < 2)
            driver_threads.clear();  // one core: nothing to keep apart
    }
    void place(const cpu_set_t& set) {
        for (pid_t t : driver_threads) (void)sched_setaffinity(t, sizeof(set), &set);  // a gone thread: ESRCH, ignored
    }
    void keep_off_this_cpu() {
        if (driver_threads.empty()) return;
        int cpu = sched_getcpu();
        if (cpu < 0 || cpu == excluded_cpu || !CPU_ISSET(cpu, &all_cpus)) return;
        cpu_set_t others = all_cpus;
        CPU_CLR(cpu, &others);
        place(others);
        excluded_cpu = cpu;
    }
    void release_cpus() {
        if (excluded_cpu < 0) return;
        place(all_cpus);
        excluded_cpu = -1;
    }

    // host_goes_on: the caller records more work after this wait (the device may
    // still run later submissions meanwhile)
    void wait(int i, bool host_goes_on = true) {
        Slot& s = slot(i);
        if (!s.busy) return;
        vk::Result r = dev->getFenceStatus(s.fence);
        if (r == vk::Result::eNotReady && spin_ns > 0) {
            py::gil_scoped_release release;
            auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns);
            while ((r = dev->getFenceStatus(s.fence)) == vk::Result::eNotReady && std::chrono::steady_clock::now() < until) {
            }
        }
        if (r != vk::Result::eSuccess) {  // still running: the host sleeps, so the driver may use its core
            release_cpus();
            py::gil_scoped_release release;
            r = dev->waitForFences(1, &s.fence, VK_TRUE, UINT64_MAX);
        }
        s.busy = false;
        if (r != vk::Result::eSuccess) throw std::runtime_error("vkgrad: waiting for a submission's fence failed");
        if (host_goes_on && excluded_cpu < 0 && !driver_threads.empty())
            for (auto& o : slots)
                if (o.busy) {  // later work still runs while the host goes on recording
                    keep_off_this_cpu();
                    break;
                }
    }
    void wait_all() {  // the host only waits: the driver may use every core
        release_cpus();
        for (int i = 0; i < kSlots; i++) wait(i, false);
    }

    // Record `prog` into slot i's command buffer and submit it; no wait.  The
    // program (its descriptor sets) must stay unchanged until wait(i).
    void submit(std::shared_ptr<OpProgram> prog, int i) {
        Slot& s = slot(i);
        wait(i);
        dev->resetCommandPool(s.pool);
        s.cb.begin(vk::CommandBufferBeginInfo(vk::CommandBufferUsageFlagBits::eOneTimeSubmit));
        s.timed = timing;
        if (timing) {
            s.cb.resetQueryPool(qpool, 2 * i, 2);
            s.cb.writeTimestamp(vk::PipelineStageFlagBits::eTopOfPipe, qpool, 2 * i);
        }
        prog->record(s.cb);
        if (timing) s.cb.writeTimestamp(vk::PipelineStageFlagBits::eBottomOfPipe, qpool, 2 * i + 1);
        s.cb.end();
        (void)dev->resetFences(1, &s.fence);
        vk::SubmitInfo si(0, nullptr, nullptr, 1, &s.cb);
        keep_off_this_cpu();  // the host goes on; before the submit wakes the driver's threads
        queue->submit(1, &si, s.fence);
        s.busy = true;
    }
};

py::dict device_limits(uint32_t index) {
    vk::ApplicationInfo app("vkgrad-limits", 1, "vkgrad", 1, VK_API_VERSION_1_1);
    vk::InstanceCreateInfo ici(vk::InstanceCreateFlags(), &app);
    vk::Instance inst = vk::createInstance(ici);
    py::dict d;
    try {
        auto devs = inst.enumeratePhysicalDevices();
        if (index >= devs.size()) {
            inst.destroy();
            throw std::out_of_range("no Vulkan device with index " + std::to_string(index));
        }
        auto pd = devs[index];
        auto props = pd.getProperties();
        vk::PhysicalDeviceSubgroupProperties sub;
        vk::PhysicalDeviceProperties2 p2;
        p2.pNext = &sub;
        pd.getProperties2(&p2);
        auto L = props.limits;
        d["name"] = std::string(props.deviceName.data());
        d["device_type"] = vk::to_string(props.deviceType);
        d["api_version"] = std::to_string(VK_VERSION_MAJOR(props.apiVersion)) + "." +
                           std::to_string(VK_VERSION_MINOR(props.apiVersion)) + "." +
                           std::to_string(VK_VERSION_PATCH(props.apiVersion));
        d["vendor_id"] = props.vendorID;
        d["max_storage_buffer_range"] = L.maxStorageBufferRange;
        d["max_compute_shared_memory_size"] = L.maxComputeSharedMemorySize;
        d["max_compute_work_group_invocations"] = L.maxComputeWorkGroupInvocations;
        d["max_compute_work_group_count"] = py::make_tuple(
            L.maxComputeWorkGroupCount[0], L.maxComputeWorkGroupCount[1], L.maxComputeWorkGroupCount[2]);
        d["max_push_constants_size"] = L.maxPushConstantsSize;
        d["max_per_stage_storage_buffers"] = L.maxPerStageDescriptorStorageBuffers;
        d["min_storage_buffer_offset_alignment"] = (uint64_t)L.minStorageBufferOffsetAlignment;
        d["min_texel_buffer_offset_alignment"] = (uint64_t)L.minTexelBufferOffsetAlignment;
        d["max_texel_buffer_elements"] = L.maxTexelBufferElements;
        d["subgroup_size"] = sub.subgroupSize;
        d["subgroup_shuffle"] = bool(sub.supportedOperations & vk::SubgroupFeatureFlagBits::eShuffle) &&
                                bool(sub.supportedStages & vk::ShaderStageFlagBits::eCompute);
        d["timestamp_period_ns"] = L.timestampPeriod;
        auto mem = pd.getMemoryProperties();
        uint64_t local = 0;
        for (uint32_t i = 0; i < mem.memoryHeapCount; i++)
            if (mem.memoryHeaps[i].flags & vk::MemoryHeapFlagBits::eDeviceLocal)
                local += mem.memoryHeaps[i].size;
        d["device_local_bytes"] = local;
        bool host_visible_local = false;
        for (uint32_t i = 0; i < mem.memoryTypeCount; i++) {
            auto f = mem.memoryTypes[i].propertyFlags;
            if ((f & vk::MemoryPropertyFlagBits::eDeviceLocal) && (f & vk::MemoryPropertyFlagBits::eHostVisible))
                host_visible_local = true;
        }
        d["host_visible_device_local"] = host_visible_local;
    } catch (...) {
        inst.destroy();
        throw;
    }
    inst.destroy();
    return d;
}

uint32_t device_count() {
    vk::ApplicationInfo app("vkgrad-count", 1, "vkgrad", 1, VK_API_VERSION_1_1);
    vk::InstanceCreateInfo ici(vk::InstanceCreateFlags(), &app);
    vk::Instance inst;
    try {
        inst = vk::createInstance(ici);
    } catch (...) {
        return 0;
    }
    uint32_t n = (uint32_t)inst.enumeratePhysicalDevices().size();
    inst.destroy();
    return n;
}

}  // namespace

PYBIND11_MODULE(_vkext, m) {
    m.doc() = "vkgrad's Kompute companion: recorded dispatch programs with barriers, device limits";
    py::module_::import("kp");  // kp::OpBase must be registered before we derive from it
    py::class_<OpProgram, kp::OpBase, std::shared_ptr<OpProgram>>(m, "Program")
        .def(py::init<>())
        .def("dispatch", &OpProgram::dispatch, py::arg("algorithm"), py::arg("x"), py::arg("y"),
             py::arg("z"), py::arg("push"), py::arg("ranges"), py::arg("arena_ids"))
        .def("copy", &OpProgram::copy, py::arg("algorithm"), py::arg("src"), py::arg("dst"), py::arg("size"),
             py::arg("src_staging") = false, py::arg("dst_staging") = false)
        .def("barrier", [](OpProgram& p) { p.barrier(1); })
        .def("host_read_barrier", [](OpProgram& p) { p.barrier(2); })
        .def("host_write_barrier", [](OpProgram& p) { p.barrier(3); })
        .def("set_push", &OpProgram::set_push, py::arg("index"), py::arg("push"))
        .def("set_arenas", [](OpProgram& p, std::vector<std::shared_ptr<kp::Algorithm>> a) { p.arenas = std::move(a); })
        .def("clear", &OpProgram::clear)
        .def_property_readonly("dispatches", [](const OpProgram& p) { return p.dispatches; })
        .def_property_readonly("barriers", [](const OpProgram& p) { return p.barriers; })
        .def_property_readonly("texel_views", [](const OpProgram& p) { return p.views.size(); })
        .def("__len__", [](const OpProgram& p) { return p.cmds.size(); });
    py::class_<Submitter, std::shared_ptr<Submitter>>(m, "Submitter")
        .def(py::init<std::shared_ptr<kp::Sequence>>(), py::arg("sequence"))
        .def("submit", &Submitter::submit, py::arg("program"), py::arg("slot"))
        .def("wait", &Submitter::wait, py::arg("slot"), py::arg("host_goes_on") = true)
        .def("wait_all", &Submitter::wait_all)
        .def("set_timing", &Submitter::set_timing, py::arg("on"))
        .def("set_spin_us", &Submitter::set_spin_us, py::arg("microseconds"))
        .def_property_readonly("spin_us", [](const Submitter& s) { return int(s.spin_ns / 1000); })
        .def("elapsed", &Submitter::elapsed, py::arg("slot"))
        .def("set_driver_threads", &Submitter::set_driver_threads, py::arg("thread_ids"))
        .def_property_readonly("excluded_cpu", [](const Submitter& s) { return s.excluded_cpu; });
    m.def("set_texel_layout", &set_texel_layout, py::arg("algorithm"), py::arg("spirv"), py::arg("formats"));
    m.def("add_texel_usage", &add_texel_usage, py::arg("holder"));
    m.def("device_limits", &device_limits, py::arg("index") = 0);
    m.def("device_count", &device_count);
}
