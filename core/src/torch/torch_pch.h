// SPDX-License-Identifier: GPL-3.0-or-later
// Precompiled header of the torch translation units. ATen is enough: we never need torch::nn.
#pragma once
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
