/* layers.h: every layer type the graph can hold. Each ops object lives in its own file
 * (conv2d.c, batchnorm.c, ...), which documents the op it mirrors and its shapes. */
#ifndef LAB_LAYERS_H
#define LAB_LAYERS_H

#include "lab/layer.h"

extern const lab_layer_ops lab_conv2d_ops;        /* conv2d.c, cfg.conv */
extern const lab_layer_ops lab_batchnorm_ops;     /* batchnorm.c, cfg.bn */
extern const lab_layer_ops lab_relu_ops;          /* relu.c */
extern const lab_layer_ops lab_pool_ops;          /* pool.c, cfg.pool (max or avg) */
extern const lab_layer_ops lab_adaptive_pool_ops; /* pool.c, cfg.apool (average) */
extern const lab_layer_ops lab_concat_ops;        /* concat.c, any number of inputs */
extern const lab_layer_ops lab_linear_ops;        /* linear.c, cfg.linear */
extern const lab_layer_ops lab_dropout_ops;       /* dropout.c, cfg.dropout */
extern const lab_layer_ops lab_flatten_ops;       /* flatten.c: (C,H,W) -> (C*H*W,1,1) */

#endif
