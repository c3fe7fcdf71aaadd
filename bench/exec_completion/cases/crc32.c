unsigned crc32(const unsigned char *data, unsigned long n)
{
    unsigned crc = 0xffffffffu;
    for (unsigned long i = 0; i < n; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1u));
    }
    return ~crc;
}
