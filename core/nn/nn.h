#pragma once
// Every module, for code above core.

#include "core/nn/conv2d_patch.h"
#include "core/nn/drop_path.h"
#include "core/nn/dropout.h"
#include "core/nn/embedding.h"
#include "core/nn/init.h"
#include "core/nn/layer.h"
#include "core/nn/layer_norm.h"
#include "core/nn/linear.h"
#include "core/nn/module.h"
#include "core/nn/sequential.h"
