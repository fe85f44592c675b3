// llama_model_quantize_params.imatrix points to a C++
// std::unordered_map<std::string, std::vector<float>> (llama-quant.cpp); these
// functions let the Go side build one.
#include <string>
#include <unordered_map>
#include <vector>

using pocket_imatrix_map = std::unordered_map<std::string, std::vector<float>>;

extern "C" {

void * pocket_imatrix_new(void) {
    try {
        return new pocket_imatrix_map();
    } catch (...) {
        return nullptr;
    }
}

int pocket_imatrix_put(void * m, const char * name, const float * values, long n) {
    try {
        (*static_cast<pocket_imatrix_map *>(m))[name].assign(values, values + n);
        return 0;
    } catch (...) {
        return 1;
    }
}

void pocket_imatrix_free(void * m) {
    delete static_cast<pocket_imatrix_map *>(m);
}

}
