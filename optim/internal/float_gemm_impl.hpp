// The body of FloatGemm, included by float_gemm.cpp (default flags) and float_gemm_avx2.cpp
// (-mavx2 -mfma) inside their own namespaces. Needs <Eigen/Core> included before.
// NOLINT: no include guard on purpose (one inclusion per translation unit).

inline void FloatGemmBody(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
                          const float* b, int ldb, float* c, int ldc) {
  using In = Eigen::Map<const Eigen::MatrixXf, 0, Eigen::OuterStride<>>;
  using Out = Eigen::Map<Eigen::MatrixXf, 0, Eigen::OuterStride<>>;
  const In ma(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  const In mb(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  Out mc(c, m, n, Eigen::OuterStride<>(ldc));
  if (!trans_a && !trans_b) {
    mc.noalias() = ma * mb;
  } else if (trans_a && !trans_b) {
    mc.noalias() = ma.transpose() * mb;
  } else if (!trans_a && trans_b) {
    mc.noalias() = ma * mb.transpose();
  } else {
    mc.noalias() = ma.transpose() * mb.transpose();
  }
}
