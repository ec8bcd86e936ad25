/* Test driver for firmware_bridge/include/imu_stream.h (compiled by test_protocols_imu_stream.py).
 * stdin, one case per line: seq t0_us period_us flags channels count scale[nch] value[count*3*nch]
 * (values as decimal doubles, "nan" allowed); stdout: the packet as lowercase hex, one line per case. */
#include <stdio.h>
#include <stdlib.h>
#include "imu_stream.h"

int main(void)
{
    unsigned seq, flags, channels, count;
    unsigned long long t0;
    unsigned long period;
    static int16_t samples[255 * 9];
    static uint8_t buf[IMU_STREAM_MAX_PAYLOAD];
    char tok[64];
    while (scanf("%u %llu %lu %u %u %u", &seq, &t0, &period, &flags, &channels, &count) == 6) {
        imu_stream_packet_t p;
        int nch = imu_stream_channel_count((uint8_t)channels), k;
        size_t i, n = (size_t)count * 3u * (size_t)nch, len;
        for (k = 0; k < nch; ++k) {
            if (scanf("%63s", tok) != 1) return 2;
            p.scale[k] = (float)strtod(tok, NULL);
        }
        for (i = 0; i < n; ++i) {
            if (scanf("%63s", tok) != 1) return 2;
            samples[i] = imu_stream_quantize((float)strtod(tok, NULL), p.scale[i % (3u * (size_t)nch) / 3u]);
        }
        p.seq = (uint16_t)seq;
        p.flags = (uint8_t)flags;
        p.channels = (uint8_t)channels;
        p.count = (uint8_t)count;
        p.period_us = (uint32_t)period;
        p.t0_us = (uint64_t)t0;
        p.samples = samples;
        len = imu_stream_encode(buf, sizeof buf, &p);
        for (i = 0; i < len; ++i) printf("%02x", buf[i]);
        printf("\n");
    }
    return 0;
}
