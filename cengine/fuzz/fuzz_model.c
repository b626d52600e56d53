/*
 * fuzz_model.c - libFuzzer entry for the model reader, planner and runtime.
 *
 *   clang -fsanitize=fuzzer,address,undefined -Icengine/include -Icengine/src \
 *       cengine/fuzz/fuzz_model.c cengine/fuzz/model_check.c <core sources> -o fuzz_model
 *   ./fuzz_model -max_total_time=60 CORPUS_DIR
 */
#include "model_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)alog_check_model(data, size); /* any status is fine; a crash or a sanitizer report is not */
    return 0;
}
