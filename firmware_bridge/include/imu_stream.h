/*
 * imu_stream.h - header-only C99 reference encoder for the Multi3Edge "imu-stream" GATT profile.
 *
 * The format is specified in firmware_bridge/protocols/imu_stream.py (module docstring); this file
 * produces byte-identical packets to the Python encoder (checked by tests/firmware_bridge).
 *
 *   service  dfe31000-6c7a-44bc-9199-33397f39aeba
 *   data     dfe31001-6c7a-44bc-9199-33397f39aeba  (notify, one packet per notification)
 *   control  dfe31002-6c7a-44bc-9199-33397f39aeba  (write: 0x01 start, 0x02 stop)
 *
 * Packet v1, little-endian:
 *   u8 magic_ver (0xA1) | u8 flags | u16 seq | u8 count | u8 channels | u32 period_us |
 *   u32 t0_us (u64 if flags & TS64) | f32 scale per channel | i16 samples[count][channels][3] |
 *   u16 CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0) of all bytes before.
 *
 * No malloc, no libm. Build with IEEE single precision float arithmetic (no -ffast-math) so that
 * imu_stream_quantize() matches the Python reference bit for bit.
 */
#ifndef IMU_STREAM_H
#define IMU_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IMU_STREAM_MAGIC_VERSION 0xA1u
#define IMU_STREAM_MAX_PAYLOAD 244u

#define IMU_STREAM_FLAG_TS64 0x01u
#define IMU_STREAM_FLAG_RESTART 0x02u
#define IMU_STREAM_FLAG_OVERFLOW 0x04u

#define IMU_STREAM_CH_ACC 0x01u  /* m/s^2, specific force, Android sign */
#define IMU_STREAM_CH_GYRO 0x02u /* rad/s */
#define IMU_STREAM_CH_MAG 0x04u  /* uT */

#define IMU_STREAM_INVALID ((int16_t)-32768)

typedef struct {
    uint16_t seq;          /* +1 per packet, wraps */
    uint8_t flags;         /* IMU_STREAM_FLAG_*; TS64 is also set automatically when t0_us > UINT32_MAX */
    uint8_t channels;      /* IMU_STREAM_CH_* mask, at least one */
    uint8_t count;         /* samples in this packet, >= 1 */
    uint32_t period_us;    /* sample period, > 0 */
    uint64_t t0_us;        /* device time of the first sample */
    float scale[3];        /* LSB size of each PRESENT channel, in channel-bit order */
    const int16_t *samples; /* count * 3 * nchannels values: per sample, channels in bit order, x y z */
} imu_stream_packet_t;

static inline uint16_t imu_stream_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    size_t i;
    int b;
    for (i = 0; i < len; ++i) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (b = 0; b < 8; ++b) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

/* SI value -> int16 LSB count: float32 division, NaN -> -32768, clamp to +-32767, round half away from zero. */
static inline int16_t imu_stream_quantize(float value, float scale)
{
    float q;
    double d;
    if (value != value) {
        return IMU_STREAM_INVALID;
    }
    q = value / scale;
    if (q != q) {
        return IMU_STREAM_INVALID;
    }
    if (q >= 32767.0f) {
        return 32767;
    }
    if (q <= -32767.0f) {
        return -32767;
    }
    d = (double)q; /* exact */
    return (int16_t)(d >= 0.0 ? (long)(d + 0.5) : -(long)(-d + 0.5));
}

static inline int imu_stream_channel_count(uint8_t channels)
{
    return (int)(channels & 1u) + (int)((channels >> 1) & 1u) + (int)((channels >> 2) & 1u);
}

static inline size_t imu_stream_packet_size(uint8_t count, uint8_t channels, int ts64)
{
    size_t nch = (size_t)imu_stream_channel_count(channels);
    return 10u + (ts64 ? 8u : 4u) + 4u * nch + 6u * nch * (size_t)count + 2u;
}

static inline uint8_t *imu_stream_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static inline uint8_t *imu_stream_put_u32(uint8_t *p, uint32_t v)
{
    int i;
    for (i = 0; i < 4; ++i) {
        p[i] = (uint8_t)((v >> (8 * i)) & 0xFFu);
    }
    return p + 4;
}

/* Encode one packet into buf (capacity cap). Returns its length, or 0 on invalid input / small buffer. */
static inline size_t imu_stream_encode(uint8_t *buf, size_t cap, const imu_stream_packet_t *pkt)
{
    uint8_t flags;
    int ts64, nch, k;
    size_t size, i, nval;
    uint8_t *p = buf;
    uint32_t bits;

    if (buf == NULL || pkt == NULL || pkt->samples == NULL) {
        return 0;
    }
    if (pkt->channels == 0u || (pkt->channels & ~0x07u) != 0u || pkt->count == 0u || pkt->period_us == 0u) {
        return 0;
    }
    flags = (uint8_t)(pkt->flags & 0x07u);
    if (pkt->t0_us > 0xFFFFFFFFull) {
        flags |= IMU_STREAM_FLAG_TS64;
    }
    ts64 = (flags & IMU_STREAM_FLAG_TS64) != 0u;
    nch = imu_stream_channel_count(pkt->channels);
    size = imu_stream_packet_size(pkt->count, pkt->channels, ts64);
    if (size > cap) {
        return 0;
    }
    *p++ = (uint8_t)IMU_STREAM_MAGIC_VERSION;
    *p++ = flags;
    p = imu_stream_put_u16(p, pkt->seq);
    *p++ = pkt->count;
    *p++ = pkt->channels;
    p = imu_stream_put_u32(p, pkt->period_us);
    p = imu_stream_put_u32(p, (uint32_t)(pkt->t0_us & 0xFFFFFFFFull));
    if (ts64) {
        p = imu_stream_put_u32(p, (uint32_t)(pkt->t0_us >> 32));
    }
    for (k = 0; k < nch; ++k) {
        memcpy(&bits, &pkt->scale[k], sizeof bits);
        p = imu_stream_put_u32(p, bits);
    }
    nval = (size_t)pkt->count * 3u * (size_t)nch;
    for (i = 0; i < nval; ++i) {
        p = imu_stream_put_u16(p, (uint16_t)pkt->samples[i]);
    }
    p = imu_stream_put_u16(p, imu_stream_crc16(buf, (size_t)(p - buf)));
    return (size_t)(p - buf);
}

#endif /* IMU_STREAM_H */
