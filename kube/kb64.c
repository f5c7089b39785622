/*
 * kb64: base64 over OpenSSL's EVP encoder/decoder (see kb64.h). OpenSSL
 * takes int lengths: encoding goes in chunks, decoding refuses input over
 * KB64_MAX_IN.
 */
#include "kb64.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define KB64_MAX_IN ((size_t)1 << 30)
#define KB64_CHUNK ((size_t)3 << 20) /* input bytes per EVP_EncodeBlock call: whole groups */

char *kb64_encode(const void *data, size_t len, size_t *out_len)
{
    const unsigned char *p = data;
    char *out = kerr_xmalloc((len + 2) / 3 * 4 + 1);
    size_t n = 0;
    out[0] = '\0';
    while (len > 0) {
        size_t take = len < KB64_CHUNK ? len : KB64_CHUNK;
        n += (size_t)EVP_EncodeBlock((unsigned char *)out + n, p, (int)take);
        p += take;
        len -= take;
    }
    if (out_len)
        *out_len = n;
    return out;
}

/* Whole 4-character groups (EVP_DecodeBlock); -1 when not base64. */
static int kb64_block(const char *in, size_t len, unsigned char *buf)
{
    if (len % 4)
        return -1;
    int n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
    for (size_t i = len; n > 0 && i > 0 && in[i - 1] == '='; i--)
        n--; /* EVP_DecodeBlock counts the padding as zero bytes */
    return n;
}

/* Lines of base64 (EVP_Decode*); -1 when not base64. */
static int kb64_lines(const char *in, size_t len, unsigned char *buf)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int n1 = 0, n2 = 0;
    if (!ctx)
        kerr_oom();
    EVP_DecodeInit(ctx);
    int rc = EVP_DecodeUpdate(ctx, buf, &n1, (const unsigned char *)in, (int)len);
    if (rc >= 0)
        rc = EVP_DecodeFinal(ctx, buf + n1, &n2);
    EVP_ENCODE_CTX_free(ctx);
    return rc < 0 ? -1 : n1 + n2;
}

enum kerr kb64_decode(const char *in, size_t len, unsigned flags, char **out, size_t *out_len)
{
    *out = NULL;
    if (len > KB64_MAX_IN)
        return KERR_PARSE;
    size_t size = len / 4 * 3 + 4;
    unsigned char *buf = kerr_xmalloc(size);
    int n = (flags & KB64_NEWLINES) ? kb64_lines(in, len, buf) : kb64_block(in, len, buf);
    if (n < 0 || ((flags & KB64_NO_NUL) && memchr(buf, '\0', (size_t)n))) {
        OPENSSL_cleanse(buf, size);
        free(buf);
        return KERR_PARSE;
    }
    buf[n] = '\0';
    *out = (char *)buf;
    if (out_len)
        *out_len = (size_t)n;
    return KERR_OK;
}
