/* loss.c: see loss.h. Softmax cross-entropy with label smoothing and top-k counts.
 *
 * Per sample, with lse = max + log(sum_j exp(z_j - max)) and sum_j q_j = 1:
 *   loss = -sum_j q_j (z_j - lse) = lse - (1 - eps) z_label - (eps / K) sum_j z_j
 * which needs no log of a probability (no log(0)). Its gradient is softmax(z) - q.
 */
#include "lab/loss.h"

#include <math.h>
#include <stddef.h>

#include "lab/status.h"

static void check_args(const int32_t *labels, int n, int k, float eps) {
  LAB_ASSERT(n >= 1 && k >= 1, "loss over %d samples of %d classes", n, k);
  LAB_ASSERT(eps >= 0.0f && eps <= 1.0f, "label smoothing %g not in [0, 1]", (double)eps);
  for (int i = 0; i < n; i++)
    LAB_ASSERT(labels[i] >= 0 && labels[i] < k, "label %d of sample %d not in [0, %d)", labels[i], i, k);
}

double lab_loss_xent_forward(const float *logits, const int32_t *labels, int n, int k, float eps, float *prob) {
  check_args(labels, n, k, eps);
  double total = 0.0;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * k;
    float *p = prob + (size_t)i * k;
    double mx = z[0];
    for (int j = 1; j < k; j++)
      if (z[j] > mx) mx = z[j];
    double s = 0.0, sum_z = 0.0;
    for (int j = 0; j < k; j++) {
      s += exp((double)z[j] - mx);
      sum_z += z[j];
    }
    for (int j = 0; j < k; j++) p[j] = (float)(exp((double)z[j] - mx) / s);
    double lse = mx + log(s);
    total += lse - (1.0 - eps) * (double)z[labels[i]] - (double)eps / k * sum_z;
  }
  return total / n;
}

void lab_loss_xent_backward(const float *prob, const int32_t *labels, int n, int k, float eps, float weight,
                            float *dlogits) {
  check_args(labels, n, k, eps);
  const double scale = (double)weight / n, uniform = (double)eps / k;
  for (int i = 0; i < n; i++) {
    const float *p = prob + (size_t)i * k;
    float *d = dlogits + (size_t)i * k;
    for (int j = 0; j < k; j++) {
      double q = uniform + (j == labels[i] ? 1.0 - eps : 0.0);
      d[j] += (float)(scale * ((double)p[j] - q));
    }
  }
}

int lab_loss_topk_correct(const float *logits, const int32_t *labels, int n, int k, int top) {
  LAB_ASSERT(top >= 1, "top-%d accuracy", top);
  check_args(labels, n, k, 0.0f);
  int correct = 0;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * k;
    int y = labels[i];
    float zy = z[y];
    if (isnan(zy)) continue;
    /* rank = number of classes placed before the label; stop counting once it reaches top */
    int rank = 0;
    for (int j = 0; j < k && rank < top; j++)
      if (j != y && (isnan(z[j]) || z[j] > zy || (z[j] == zy && j < y))) rank++;
    if (rank < top) correct++;
  }
  return correct;
}
