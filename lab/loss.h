/* loss.h: softmax cross-entropy with label smoothing (Inception-v3 paper, Sec. 7;
 * torch.nn.CrossEntropyLoss(label_smoothing=eps), mean reduction) and top-k correct counts.
 *
 * Shapes: logits and probabilities (N, K) row-major, K = number of classes; labels (N, int32) with
 * values in [0, K) (out-of-range labels are bugs: the data readers validate them).
 * Target distribution of sample i: q = (1 - eps) * onehot(label_i) + eps / K (uniform prior).
 */
#ifndef LAB_LOSS_H
#define LAB_LOSS_H

#include <stdint.h>

/* Returns the mean over the N samples of -sum_j q_j log softmax(logits_i)_j, computed in
 * double with log-sum-exp (max subtracted). prob: (N, K), out: the softmax probabilities,
 * kept for lab_loss_xent_backward. 0 <= eps <= 1. A non-finite logit gives a NaN or Inf loss,
 * which the caller checks. */
double lab_loss_xent_forward(const float *logits, const int32_t *labels, int n, int k, float eps, float *prob);

/* dlogits: (N, K), accumulated (+=) with weight * d(mean loss)/d logits
 * = weight * (prob - q) / N. weight scales a loss's share of the objective (the auxiliary
 * classifier's 0.4). prob is the output of lab_loss_xent_forward on the same labels. */
void lab_loss_xent_backward(const float *prob, const int32_t *labels, int n, int k, float eps, float weight,
                            float *dlogits);

/* Number of samples whose label is among the `top` highest logits (top >= 1; top >= K counts
 * every non-NaN label logit). Deterministic tie rule: classes are ranked by logit,
 * descending, and equal logits by class index, ascending (a stable sort), so a tie with a
 * lower-index class ranks that class first; a NaN logit ranks above every number (as
 * torch.topk puts NaN first) and a NaN label logit is never correct. */
int lab_loss_topk_correct(const float *logits, const int32_t *labels, int n, int k, int top);

#endif
