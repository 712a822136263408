// Everything a C++ application needs: #include <mpsnn/mpsnn.hpp>, link mpsnn::mpsnn.
#pragma once

#include "mpsnn/bnns.hpp"
#include "mpsnn/command.hpp"
#include "mpsnn/config.hpp"
#include "mpsnn/device.hpp"
#include "mpsnn/image.hpp"
#include "mpsnn/matrix.hpp"
#include "mpsnn/matrix_multiplication.hpp"
#include "mpsnn/neuron.hpp"
#include "mpsnn/optimizer.hpp"
#include "mpsnn/types.hpp"
