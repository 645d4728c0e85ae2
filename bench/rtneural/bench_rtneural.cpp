// Per-sample inference benchmark of RTNeural's compile-time API (RTNeural::ModelT).
//
// Built once per backend by run.sh:
//   g++ -O3 -march=native -std=c++17 -DRTNEURAL_USE_XSIMD=1 ...   (xsimd)
//   g++ -O3 -march=native -std=c++17 -DRTNEURAL_USE_EIGEN=1 ...   (Eigen)
//   g++ -O3 -march=native -std=c++17 ...                          (STL: neither define)
//
// Output on stdout, one line per model: "<model> <backend> <ns_per_sample>".
// Lines starting with '#' are comments (checks, softmax sums); ignore them when parsing.
//
// Models (float32, random weights uniform in [-0.3, 0.3] from a fixed-seed generator):
//   lstm32 : 1 -> LSTM(32) -> Dense(1)
//   gru32  : 1 -> GRU(32)  -> Dense(1)
//   lstm64 : 1 -> LSTM(64) -> Dense(1)
//   mlp    : 64 -> Dense(32) -> ReLU -> Dense(10) -> Softmax
//
// Timing: one ModelT::forward call per sample. Warm-up pass, then the minimum over
// REPS repetitions of SAMPLES samples each, std::chrono::steady_clock. The recurrent
// models' state carries over between samples (as in a real audio stream, which RTNeural
// processes sample by sample: it has no block API, so a 512-sample block costs 512
// forward calls and the per-sample figure is the same number).

#include <RTNeural/RTNeural.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#if RTNEURAL_USE_XSIMD
static const char* const BACKEND = "rtneural-xsimd";
#elif RTNEURAL_USE_EIGEN
static const char* const BACKEND = "rtneural-eigen";
#else
static const char* const BACKEND = "rtneural-stl";
#endif

static int SAMPLES = 200000;
static int REPS = 7;

static volatile float g_sink;

// ---------------------------------------------------------------------------
// Deterministic weights: xorshift32, uniform in [-0.3, 0.3].
struct Rng
{
    uint32_t s;
    explicit Rng(uint32_t seed) : s(seed ? seed : 1u) {}
    float uniform(float a) // in [-a, a]
    {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return a * (2.0f * (float)(s >> 8) / 16777216.0f - 1.0f);
    }
};

// Optional JSON dump of every weight drawn (--dump-weights FILE), so another implementation
// can load the very same models. Layout: {"<model>": {"<layer>": {"<tensor>": [...]}}}.
static std::string g_json;
static bool g_dump = false;

static void json_key(const char* model, const char* layer, const char* tensor)
{
    // called in order model -> layer -> tensor; opens and closes objects as the names change
    static std::string cur_model, cur_layer;
    if(cur_model != model)
    {
        if(!cur_model.empty())
            g_json += "}},\n";
        g_json += "\"" + std::string(model) + "\": {";
        cur_model = model;
        cur_layer.clear();
    }
    if(cur_layer != layer)
    {
        if(!cur_layer.empty())
            g_json += "},";
        g_json += "\n  \"" + std::string(layer) + "\": {";
        cur_layer = layer;
    }
    else
        g_json += ",";
    g_json += "\n    \"" + std::string(tensor) + "\": ";
}

static void json_row(const std::vector<float>& v)
{
    char buf[32];
    g_json += "[";
    for(size_t i = 0; i < v.size(); ++i)
    {
        std::snprintf(buf, sizeof buf, "%s%.9g", i ? ", " : "", (double)v[i]);
        g_json += buf;
    }
    g_json += "]";
}

static std::vector<float> vec(Rng& r, int n, const char* model = nullptr, const char* layer = nullptr,
                              const char* tensor = nullptr)
{
    std::vector<float> v((size_t)n);
    for(auto& x : v)
        x = r.uniform(0.3f);
    if(g_dump && model)
    {
        json_key(model, layer, tensor);
        json_row(v);
    }
    return v;
}

static std::vector<std::vector<float>> mat(Rng& r, int rows, int cols, const char* model, const char* layer,
                                           const char* tensor)
{
    std::vector<std::vector<float>> m((size_t)rows);
    for(auto& row : m)
        row = vec(r, cols);
    if(g_dump)
    {
        json_key(model, layer, tensor);
        g_json += "[";
        for(size_t i = 0; i < m.size(); ++i)
        {
            g_json += i ? ",\n      " : "\n      ";
            json_row(m[i]);
        }
        g_json += "]";
    }
    return m;
}

// Keras layouts, as RTNeural's set*Vals take them (also the dumped shapes):
//   LSTM  W [in][4*hid] (gates i,f,c,o), U [hid][4*hid], b [4*hid]
//   GRU   W [in][3*hid] (gates z,r,h),   U [hid][3*hid], b [2][3*hid] (input and recurrent biases)
//   Dense W [out][in], b [out]
// Draw order: W, U, b of the recurrent layer, then W, b of each dense layer; one generator per
// model, seeded 1 (lstm32), 2 (gru32), 3 (lstm64), 4 (mlp).
template <typename Layer>
static void init_lstm(Layer& l, Rng& r, const char* model, int in, int hid)
{
    l.setWVals(mat(r, in, 4 * hid, model, "lstm", "W"));
    l.setUVals(mat(r, hid, 4 * hid, model, "lstm", "U"));
    l.setBVals(vec(r, 4 * hid, model, "lstm", "b"));
}

template <typename Layer>
static void init_gru(Layer& l, Rng& r, const char* model, int in, int hid)
{
    l.setWVals(mat(r, in, 3 * hid, model, "gru", "W"));
    l.setUVals(mat(r, hid, 3 * hid, model, "gru", "U"));
    l.setBVals(mat(r, 2, 3 * hid, model, "gru", "b"));
}

template <typename Layer>
static void init_dense(Layer& l, Rng& r, const char* model, const char* layer, int in, int out)
{
    l.setWeights(mat(r, out, in, model, layer, "W"));
    auto b = vec(r, out, model, layer, "b");
    l.setBias(b.data());
}

// ---------------------------------------------------------------------------
// Inputs: a sine-ish signal in [-1, 1].
static std::vector<float> audio_signal(int n)
{
    std::vector<float> x((size_t)n);
    const double two_pi = 6.283185307179586;
    for(int i = 0; i < n; ++i)
    {
        const double t = (double)i / 48000.0;
        x[(size_t)i] = (float)(0.6 * std::sin(two_pi * 220.0 * t) + 0.3 * std::sin(two_pi * 1330.0 * t + 0.5)
                               + 0.1 * std::sin(two_pi * 5010.0 * t + 1.0));
    }
    return x;
}

static bool bad(float y)
{
    return !std::isfinite(y) || std::fpclassify(y) == FP_SUBNORMAL;
}

template <typename Fn>
static double time_best(Fn&& run_once)
{
    run_once(); // warm-up
    double best = std::numeric_limits<double>::infinity();
    for(int rep = 0; rep < REPS; ++rep)
    {
        const auto t0 = std::chrono::steady_clock::now();
        run_once();
        const auto t1 = std::chrono::steady_clock::now();
        const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / (double)SAMPLES;
        best = std::min(best, ns);
    }
    return best;
}

// Scalar-input recurrent models: one forward call per audio sample.
template <typename Model>
static void bench_recurrent(const char* name, Model& model, const std::vector<float>& x)
{
    model.reset();
    long n_bad = 0;
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    // correctness pass over the signal: finite, no subnormal outputs
    for(int i = 0; i < SAMPLES; ++i)
    {
        const float y = model.forward(&x[(size_t)i]);
        n_bad += bad(y);
        lo = std::min(lo, y);
        hi = std::max(hi, y);
    }
    model.reset();
    const double ns = time_best([&] {
        float acc = 0.0f;
        for(int i = 0; i < SAMPLES; ++i)
            acc += model.forward(&x[(size_t)i]);
        g_sink = acc;
    });
    std::printf("# %s %s output range [%g, %g], non-finite/subnormal outputs: %ld\n", name, BACKEND, lo, hi, n_bad);
    std::printf("%s %s %.2f\n", name, BACKEND, ns);
}

static void bench_mlp()
{
    using Model = RTNeural::ModelT<float, 64, 10,
                                   RTNeural::DenseT<float, 64, 32>,
                                   RTNeural::ReLuActivationT<float, 32>,
                                   RTNeural::DenseT<float, 32, 10>,
                                   RTNeural::SoftmaxActivationT<float, 10>>;
    auto* model = new Model(); // heap: ModelT can be large and over-aligned
    Rng r(4);
    init_dense(model->template get<0>(), r, "mlp", "dense1", 64, 32);
    init_dense(model->template get<2>(), r, "mlp", "dense2", 32, 10);

    // 256 different input vectors of 64 values in [-1, 1], 64-byte aligned rows
    // (the xsimd backend loads the input with aligned loads).
    constexpr int N_IN = 256;
    struct alignas(64) Row
    {
        float v[64];
    };
    std::vector<Row> in(N_IN);
    for(int k = 0; k < N_IN; ++k)
        for(int j = 0; j < 64; ++j)
            in[(size_t)k].v[j] = (float)std::sin(0.37 * j + 0.11 * k + 0.05 * j * k);

    // correctness: softmax outputs must sum to 1
    double worst = 0.0, sum_min = 1e9, sum_max = -1e9;
    long n_bad = 0;
    for(int k = 0; k < N_IN; ++k)
    {
        model->forward(in[(size_t)k].v);
        const float* o = model->getOutputs();
        double s = 0.0;
        for(int j = 0; j < 10; ++j)
        {
            s += o[j];
            n_bad += bad(o[j]);
        }
        worst = std::max(worst, std::fabs(s - 1.0));
        sum_min = std::min(sum_min, s);
        sum_max = std::max(sum_max, s);
    }
    std::printf("# mlp %s softmax sum of the 10 outputs in [%.6f, %.6f], max |sum-1| = %.3g: %s; non-finite/subnormal outputs: %ld\n",
                BACKEND, sum_min, sum_max, worst, worst < 1e-4 ? "correct" : "WRONG", n_bad);

    const double ns = time_best([&] {
        float acc = 0.0f;
        for(int i = 0; i < SAMPLES; ++i)
            acc += model->forward(in[(size_t)(i & (N_IN - 1))].v);
        g_sink = acc;
    });
    std::printf("mlp %s %.2f\n", BACKEND, ns);
    delete model;
}

int main(int argc, char** argv)
{
    if(const char* s = std::getenv("BENCH_SAMPLES"))
        SAMPLES = std::max(1, std::atoi(s));
    if(const char* s = std::getenv("BENCH_REPS"))
        REPS = std::max(1, std::atoi(s));
    // usage: bench_rtneural [--dump-weights FILE] [MODEL]
    std::string only, dump_path;
    for(int i = 1; i < argc; ++i)
    {
        const std::string a = argv[i];
        if(a == "--dump-weights" && i + 1 < argc)
            dump_path = argv[++i];
        else
            only = a;
    }
    g_dump = !dump_path.empty();
    if(g_dump)
        g_json = "{\n";
    auto want = [&](const char* m) { return only.empty() || only == m; };

#if RTNEURAL_USE_XSIMD
    std::printf("# %s: xsimd arch %s, batch<float> of %d lanes, RTNEURAL_DEFAULT_ALIGNMENT %d\n", BACKEND,
                xsimd::default_arch::name(), (int)xsimd::batch<float>::size, (int)RTNEURAL_DEFAULT_ALIGNMENT);
#elif RTNEURAL_USE_EIGEN
    std::printf("# %s: Eigen %d.%d.%d, SIMD %s, RTNEURAL_DEFAULT_ALIGNMENT %d\n", BACKEND, EIGEN_WORLD_VERSION,
                EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, Eigen::SimdInstructionSetsInUse(), (int)RTNEURAL_DEFAULT_ALIGNMENT);
#else
    std::printf("# %s: RTNEURAL_DEFAULT_ALIGNMENT %d\n", BACKEND, (int)RTNEURAL_DEFAULT_ALIGNMENT);
#endif
    std::printf("# %d samples per repetition, best of %d repetitions after a warm-up\n", SAMPLES, REPS);

    const auto x = audio_signal(SAMPLES);

    if(want("lstm32"))
    {
        using M = RTNeural::ModelT<float, 1, 1, RTNeural::LSTMLayerT<float, 1, 32>, RTNeural::DenseT<float, 32, 1>>;
        auto* m = new M();
        Rng r(1);
        init_lstm(m->template get<0>(), r, "lstm32", 1, 32);
        init_dense(m->template get<1>(), r, "lstm32", "dense", 32, 1);
        bench_recurrent("lstm32", *m, x);
        delete m;
    }
    if(want("gru32"))
    {
        using M = RTNeural::ModelT<float, 1, 1, RTNeural::GRULayerT<float, 1, 32>, RTNeural::DenseT<float, 32, 1>>;
        auto* m = new M();
        Rng r(2);
        init_gru(m->template get<0>(), r, "gru32", 1, 32);
        init_dense(m->template get<1>(), r, "gru32", "dense", 32, 1);
        bench_recurrent("gru32", *m, x);
        delete m;
    }
    if(want("lstm64"))
    {
        using M = RTNeural::ModelT<float, 1, 1, RTNeural::LSTMLayerT<float, 1, 64>, RTNeural::DenseT<float, 64, 1>>;
        auto* m = new M();
        Rng r(3);
        init_lstm(m->template get<0>(), r, "lstm64", 1, 64);
        init_dense(m->template get<1>(), r, "lstm64", "dense", 64, 1);
        bench_recurrent("lstm64", *m, x);
        delete m;
    }
    if(want("mlp"))
        bench_mlp();

    if(g_dump)
    {
        g_json += "}}\n}\n";
        FILE* f = std::fopen(dump_path.c_str(), "w");
        if(!f || std::fputs(g_json.c_str(), f) < 0 || std::fclose(f) != 0)
        {
            std::fprintf(stderr, "cannot write %s\n", dump_path.c_str());
            return 1;
        }
        std::printf("# weights written to %s\n", dump_path.c_str());
    }
    return 0;
}
