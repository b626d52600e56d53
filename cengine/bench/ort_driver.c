/*
 * ort_driver - runs one .onnx model through onnxruntime's C API and times Run(), the way
 * onnx_runner times alog_model_run(): python -m alog_detect.bench.peers drives both.
 *
 *   ort_driver LIBONNXRUNTIME MODEL.onnx --input NAME:TYPE:D0,D1,... --output NAME:D0,D1,...
 *              [--repeat N] -i INPUT.bin [-o OUTPUT.bin]
 *
 * TYPE is float or int64; the output is float, of the shape given. The input file holds the raw
 * little-endian elements. The output (float) is written raw to OUTPUT.bin. stdout gets one JSON
 * object: onnxruntime's version and the seconds per Run() (wall clock, after one untimed run).
 * One intra-op and one inter-op thread, sequential execution, every graph optimisation (the
 * Python API's defaults, with its thread count set to one). The input and output tensors wrap
 * this program's buffers (CreateTensorWithDataAsOrtValue), so Run() allocates no output.
 *
 * The onnxruntime wheel ships libonnxruntime.so but no headers, so this file declares what it
 * uses itself: OrtGetApiBase (dlsym) and the OrtApi function table's layout up to the entries
 * called here. That table only ever grows at its end (onnxruntime keeps it ABI-stable), so the
 * layout below, transcribed from onnxruntime_c_api.h, holds for the version in constraints.txt
 * (1.32.0, ORT_API_VERSION 32) as for every version since 1.0; ORT_API_VERSION is passed in
 * (-DORT_API_VERSION_USED, set by the benchmark from the library's own version string).
 * Exit status: 0 ok, 1 onnxruntime failed (its message on stderr), 2 usage or I/O.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef ORT_API_VERSION_USED
#define ORT_API_VERSION_USED 32
#endif

/* ---- the part of onnxruntime_c_api.h this program needs ------------------------------------ */

typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtValue OrtValue;
typedef struct OrtRunOptions OrtRunOptions;

enum { ORT_LOGGING_LEVEL_WARNING = 2 };
enum { ORT_TENSOR_FLOAT = 1, ORT_TENSOR_INT64 = 7 };   /* ONNXTensorElementDataType */
enum { ORT_ARENA_ALLOCATOR = 1 };                      /* OrtAllocatorType */
enum { ORT_MEM_TYPE_DEFAULT = 0 };                     /* OrtMemType */
enum { ORT_ENABLE_ALL = 99 };                          /* GraphOptimizationLevel */

typedef void (*ort_unused)(void);   /* an entry of the table this program does not call */

/* struct OrtApi, in order, from its first entry to ReleaseSessionOptions (index 100). */
typedef struct OrtApi {
    OrtStatus *(*CreateStatus)(int code, const char *msg);                         /* 0 */
    int (*GetErrorCode)(const OrtStatus *status);                                   /* 1 */
    const char *(*GetErrorMessage)(const OrtStatus *status);                        /* 2 */
    OrtStatus *(*CreateEnv)(int log_severity_level, const char *logid, OrtEnv **out); /* 3 */
    ort_unused CreateEnvWithCustomLogger, EnableTelemetryEvents, DisableTelemetryEvents; /* 4-6 */
    OrtStatus *(*CreateSession)(const OrtEnv *env, const char *model_path,
                                const OrtSessionOptions *options, OrtSession **out);  /* 7 */
    ort_unused CreateSessionFromArray;                                              /* 8 */
    OrtStatus *(*Run)(OrtSession *session, const OrtRunOptions *run_options,
                      const char *const *input_names, const OrtValue *const *inputs, size_t input_len,
                      const char *const *output_names, size_t output_names_len,
                      OrtValue **outputs);                                          /* 9 */
    OrtStatus *(*CreateSessionOptions)(OrtSessionOptions **options);                /* 10 */
    ort_unused SetOptimizedModelFilePath, CloneSessionOptions;                       /* 11-12 */
    OrtStatus *(*SetSessionExecutionMode)(OrtSessionOptions *options, int mode);     /* 13 */
    ort_unused EnableProfiling, DisableProfiling, EnableMemPattern, DisableMemPattern,
        EnableCpuMemArena, DisableCpuMemArena, SetSessionLogId, SetSessionLogVerbosityLevel,
        SetSessionLogSeverityLevel;                                                 /* 14-22 */
    OrtStatus *(*SetSessionGraphOptimizationLevel)(OrtSessionOptions *options, int level); /* 23 */
    OrtStatus *(*SetIntraOpNumThreads)(OrtSessionOptions *options, int n);          /* 24 */
    OrtStatus *(*SetInterOpNumThreads)(OrtSessionOptions *options, int n);          /* 25 */
    ort_unused CreateCustomOpDomain, CustomOpDomain_Add, AddCustomOpDomain, RegisterCustomOpsLibrary,
        SessionGetInputCount, SessionGetOutputCount, SessionGetOverridableInitializerCount,
        SessionGetInputTypeInfo, SessionGetOutputTypeInfo, SessionGetOverridableInitializerTypeInfo,
        SessionGetInputName, SessionGetOutputName, SessionGetOverridableInitializerName,
        CreateRunOptions, RunOptionsSetRunLogVerbosityLevel, RunOptionsSetRunLogSeverityLevel,
        RunOptionsSetRunTag, RunOptionsGetRunLogVerbosityLevel, RunOptionsGetRunLogSeverityLevel,
        RunOptionsGetRunTag, RunOptionsSetTerminate, RunOptionsUnsetTerminate,
        CreateTensorAsOrtValue;                                                     /* 26-48 */
    OrtStatus *(*CreateTensorWithDataAsOrtValue)(const OrtMemoryInfo *info, void *p_data,
                                                 size_t p_data_len, const int64_t *shape,
                                                 size_t shape_len, int type, OrtValue **out); /* 49 */
    ort_unused IsTensor, GetTensorMutableData, FillStringTensor, GetStringTensorDataLength,
        GetStringTensorContent, CastTypeInfoToTensorInfo, GetOnnxTypeFromTypeInfo,
        CreateTensorTypeAndShapeInfo, SetTensorElementType, SetDimensions, GetTensorElementType,
        GetDimensionsCount, GetDimensions, GetSymbolicDimensions, GetTensorShapeElementCount,
        GetTensorTypeAndShape, GetTypeInfo, GetValueType, CreateMemoryInfo;         /* 50-68 */
    OrtStatus *(*CreateCpuMemoryInfo)(int type, int mem_type, OrtMemoryInfo **out); /* 69 */
    ort_unused CompareMemoryInfo, MemoryInfoGetName, MemoryInfoGetId, MemoryInfoGetMemType,
        MemoryInfoGetType, AllocatorAlloc, AllocatorFree, AllocatorGetInfo,
        GetAllocatorWithDefaultOptions, AddFreeDimensionOverride, GetValue, GetValueCount,
        CreateValue, CreateOpaqueValue, GetOpaqueValue, KernelInfoGetAttribute_float,
        KernelInfoGetAttribute_int64, KernelInfoGetAttribute_string, KernelContext_GetInputCount,
        KernelContext_GetOutputCount, KernelContext_GetInput, KernelContext_GetOutput; /* 70-91 */
    void (*ReleaseEnv)(OrtEnv *input);                                              /* 92 */
    void (*ReleaseStatus)(OrtStatus *input);                                        /* 93 */
    void (*ReleaseMemoryInfo)(OrtMemoryInfo *input);                                /* 94 */
    void (*ReleaseSession)(OrtSession *input);                                      /* 95 */
    void (*ReleaseValue)(OrtValue *input);                                          /* 96 */
    ort_unused ReleaseRunOptions, ReleaseTypeInfo, ReleaseTensorTypeAndShapeInfo;   /* 97-99 */
    void (*ReleaseSessionOptions)(OrtSessionOptions *input);                        /* 100 */
} OrtApi;

typedef struct OrtApiBase {
    const OrtApi *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;

/* ---- the driver ------------------------------------------------------------------------------ */

#define MAX_DIMS 8

typedef struct options {
    const char *library, *model, *input_path, *output_path;
    const char *input_name, *output_name;
    int input_type;
    int64_t shape[MAX_DIMS], output_shape[MAX_DIMS];
    size_t rank, output_rank;
    long repeat;
} options;

static int usage(void)
{
    fputs("usage: ort_driver LIBONNXRUNTIME MODEL.onnx --input NAME:float|int64:D0,D1,...\n"
          "                  --output NAME:D0,D1,... [--repeat N] -i INPUT.bin [-o OUTPUT.bin]\n",
          stderr);
    return 2;
}

/* "1,10" -> shape; 0 unless every dimension is a positive integer. */
static int parse_shape(const char *dims, int64_t *shape, size_t *rank)
{
    char *end;
    for (*rank = 0; *dims && *rank < MAX_DIMS; ++*rank) {
        shape[*rank] = strtoll(dims, &end, 10);
        if (end == dims || shape[*rank] < 1)
            return 0;
        dims = *end == ',' ? end + 1 : end;
    }
    return *rank > 0 && *dims == '\0';
}

/* "keys:int64:1,10" -> name, type, shape (the string is modified in place). */
static int parse_input(char *spec, options *o)
{
    char *type = strchr(spec, ':'), *dims;
    if (!type)
        return 0;
    *type++ = '\0';
    dims = strchr(type, ':');
    if (!dims)
        return 0;
    *dims++ = '\0';
    o->input_name = spec;
    if (strcmp(type, "float") == 0)
        o->input_type = ORT_TENSOR_FLOAT;
    else if (strcmp(type, "int64") == 0)
        o->input_type = ORT_TENSOR_INT64;
    else
        return 0;
    return parse_shape(dims, o->shape, &o->rank);
}

static int parse_args(int argc, char **argv, options *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->repeat = 1;
    for (i = 1; i < argc; ++i) {
        char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--input") == 0) {
            if (!parse_input(argv[++i], o))
                return 0;
        } else if (i + 1 < argc && strcmp(a, "--output") == 0) {
            char *dims = strchr(argv[++i], ':');
            if (!dims)
                return 0;
            *dims++ = '\0';
            o->output_name = argv[i];
            if (!parse_shape(dims, o->output_shape, &o->output_rank))
                return 0;
        } else if (i + 1 < argc && strcmp(a, "--repeat") == 0) {
            o->repeat = strtol(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(a, "-i") == 0) {
            o->input_path = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "-o") == 0) {
            o->output_path = argv[++i];
        } else if (a[0] != '-' && !o->library) {
            o->library = a;
        } else if (a[0] != '-' && !o->model) {
            o->model = a;
        } else {
            return 0;
        }
    }
    return o->library && o->model && o->input_name && o->output_name && o->input_path && o->repeat >= 1;
}

static void *read_exactly(const char *path, size_t len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(len ? len : 1);
    int extra;
    if (!f || !buf || fread(buf, 1, len, f) != len || (extra = fgetc(f)) != EOF) {
        fprintf(stderr, "ort_driver: %s must hold exactly %lu bytes\n", path, (unsigned long)len);
        if (f)
            fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Prints onnxruntime's message and releases the status; 1 when there was one. */
static int failed(const OrtApi *ort, OrtStatus *status, const char *what)
{
    if (!status)
        return 0;
    fprintf(stderr, "ort_driver: %s: %s\n", what, ort->GetErrorMessage(status));
    ort->ReleaseStatus(status);
    return 1;
}

int main(int argc, char **argv)
{
    options o;
    void *lib;
    union {              /* dlsym gives an object pointer; POSIX lets it hold a function's */
        void *object;
        const OrtApiBase *(*function)(void);
    } get_api_base;
    const OrtApi *ort;
    OrtEnv *env = NULL;
    OrtSessionOptions *so = NULL;
    OrtSession *session = NULL;
    OrtMemoryInfo *cpu = NULL;
    OrtValue *input = NULL, *output = NULL;
    size_t in_count = 1, out_count = 1, d;
    void *in_data;
    float *out_data;
    double start, seconds = 0.0;
    long r;
    int bad = 0;

    if (!parse_args(argc, argv, &o))
        return usage();
    lib = dlopen(o.library, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "ort_driver: cannot load %s: %s\n", o.library, dlerror());
        return 2;
    }
    get_api_base.object = dlsym(lib, "OrtGetApiBase");
    if (!get_api_base.object) {
        fprintf(stderr, "ort_driver: %s has no OrtGetApiBase\n", o.library);
        return 2;
    }
    ort = get_api_base.function()->GetApi(ORT_API_VERSION_USED);
    if (!ort) {
        fprintf(stderr, "ort_driver: onnxruntime %s does not offer API version %d\n",
                get_api_base.function()->GetVersionString(), ORT_API_VERSION_USED);
        return 1;
    }
    for (d = 0; d < o.rank; ++d)
        in_count *= (size_t)o.shape[d];
    for (d = 0; d < o.output_rank; ++d)
        out_count *= (size_t)o.output_shape[d];
    in_data = read_exactly(o.input_path, in_count * (o.input_type == ORT_TENSOR_INT64 ? 8 : 4));
    out_data = calloc(out_count, sizeof *out_data);
    if (!in_data || !out_data)
        return 2;

    bad = failed(ort, ort->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "ort_driver", &env), "CreateEnv")
          || failed(ort, ort->CreateSessionOptions(&so), "CreateSessionOptions")
          || failed(ort, ort->SetIntraOpNumThreads(so, 1), "SetIntraOpNumThreads")
          || failed(ort, ort->SetInterOpNumThreads(so, 1), "SetInterOpNumThreads")
          || failed(ort, ort->SetSessionExecutionMode(so, 0), "SetSessionExecutionMode")
          || failed(ort, ort->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL),
                    "SetSessionGraphOptimizationLevel")
          || failed(ort, ort->CreateSession(env, o.model, so, &session), "CreateSession")
          || failed(ort, ort->CreateCpuMemoryInfo(ORT_ARENA_ALLOCATOR, ORT_MEM_TYPE_DEFAULT, &cpu),
                    "CreateCpuMemoryInfo")
          || failed(ort, ort->CreateTensorWithDataAsOrtValue(
                             cpu, in_data, in_count * (o.input_type == ORT_TENSOR_INT64 ? 8 : 4),
                             o.shape, o.rank, o.input_type, &input), "input tensor")
          || failed(ort, ort->CreateTensorWithDataAsOrtValue(cpu, out_data, out_count * sizeof *out_data,
                                                             o.output_shape, o.output_rank, ORT_TENSOR_FLOAT,
                                                             &output), "output tensor");
    if (!bad) {
        const char *in_names[1], *out_names[1];
        const OrtValue *inputs[1];
        in_names[0] = o.input_name;
        out_names[0] = o.output_name;
        inputs[0] = input;
        /* One untimed run: the first Run() plans its memory. */
        bad = failed(ort, ort->Run(session, NULL, in_names, inputs, 1, out_names, 1, &output), "Run");
        start = now();
        for (r = 0; !bad && r < o.repeat; ++r)
            bad = failed(ort, ort->Run(session, NULL, in_names, inputs, 1, out_names, 1, &output), "Run");
        seconds = (now() - start) / (double)o.repeat;
    }
    if (!bad && o.output_path) {
        FILE *f = fopen(o.output_path, "wb");
        if (!f || fwrite(out_data, sizeof *out_data, out_count, f) != out_count) {
            fprintf(stderr, "ort_driver: cannot write %s\n", o.output_path);
            bad = 2;
        }
        if (f)
            fclose(f);
    }
    if (!bad)
        printf("{\"version\": \"%s\", \"api_version\": %d, \"seconds_per_run\": %.9g}\n",
               get_api_base.function()->GetVersionString(), ORT_API_VERSION_USED, seconds);
    if (output)
        ort->ReleaseValue(output);
    if (input)
        ort->ReleaseValue(input);
    if (cpu)
        ort->ReleaseMemoryInfo(cpu);
    if (session)
        ort->ReleaseSession(session);
    if (so)
        ort->ReleaseSessionOptions(so);
    if (env)
        ort->ReleaseEnv(env);
    free(in_data);
    free(out_data);
    return bad;
}
