// SPDX-License-Identifier: GPL-3.0-or-later
#include "demo/demobuild.h"

namespace sinkscope::demo {

uint64_t Rng::next()
{
    uint64_t z = (m_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

float Rng::uniform()
{
    // 24 random bits -> k / 2^23 - 1: every value is exact in float.
    const auto k = static_cast<int32_t>(next() >> 40);
    return static_cast<float>(k) * (1.0f / 8388608.0f) - 1.0f;
}

Mat Mat::transposed() const
{
    Mat t(cols, rows);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
            t.at(c, r) = at(r, c);
    return t;
}

void Mat::randomBlock(Rng& rng, int r0, int r1, int c0, int c1, float amplitude)
{
    for (int r = r0; r < r1; ++r)
        for (int c = c0; c < c1; ++c)
            at(r, c) = amplitude * rng.uniform();
}

void Mat::zeroColumnMeans(int r0, int r1, int c0, int c1)
{
    for (int c = c0; c < c1; ++c) {
        double sum = 0;
        for (int r = r0; r < r1; ++r)
            sum += at(r, c);
        const auto mean = static_cast<float>(sum / (r1 - r0));
        for (int r = r0; r < r1; ++r)
            at(r, c) -= mean;
    }
}

void Mat::zeroRowMeans(int r0, int r1, int c0, int c1)
{
    for (int r = r0; r < r1; ++r) {
        double sum = 0;
        for (int c = c0; c < c1; ++c)
            sum += at(r, c);
        const auto mean = static_cast<float>(sum / (c1 - c0));
        for (int c = c0; c < c1; ++c)
            at(r, c) -= mean;
    }
}

std::vector<float> randomVector(Rng& rng, int n, int b, int e, float amplitude)
{
    std::vector<float> v(size_t(n), 0.0f);
    for (int i = b; i < e; ++i)
        v[size_t(i)] = amplitude * rng.uniform();
    return v;
}

HostTensor tensor(const std::string& name, const Mat& m)
{
    return HostTensor::fromFloats(name, {m.rows, m.cols}, m.v);
}

HostTensor tensor(const std::string& name, const std::vector<float>& v)
{
    return HostTensor::fromFloats(name, {int64_t(v.size())}, v);
}

} // namespace sinkscope::demo
