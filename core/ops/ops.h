#pragma once
// Every op, for code above core (models, apps, tests).

#include "core/autograd/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"
#include "core/ops/view.h"
#include "core/ops/softmax.h"
#include "core/ops/layer_norm.h"
#include "core/ops/loss.h"
#include "core/ops/dropout.h"
#include "core/tensor/tensor.h"
#include "core/random/generator.h"
#include "core/ops/attention.h"
#include "core/ops/linalg.h"
#include "core/ops/embedding.h"
#include "core/ops/conv.h"
#include "core/ops/linear_attention.h"
#include "core/ops/flt_attention.h"
