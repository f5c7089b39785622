/*
 * kpack: compression of cached object texts against a preset dictionary
 * (zlib's raw deflate with deflateSetDictionary), one codec per kind.
 *
 * Objects of one kind share nearly all their text with one another: keys,
 * label keys and values, images, owner kinds. The first text a codec packs
 * becomes its dictionary (its last KPACK_DICT_MAX bytes), and every text is
 * deflated against it: a Deployment of 2.4 KB becomes ~150-400 bytes
 * (uids, timestamps and resourceVersions are what is left), where deflate
 * without the dictionary only halves it. Unpacking costs ~2 us per object.
 *
 * Thread safety: a codec is shared by reference count between its
 * informer and every kobj packed with it. kpack_compress and kpack_share
 * may be called from any thread (a mutex guards the setting of the
 * dictionary and the shared strings; each call uses a stream of its own);
 * kpack_expand from any thread at any time (it reads the dictionary, which
 * never changes once set, and uses its own stream). A shared string never
 * changes or moves once added.
 */
#ifndef GRACE_KPACK_H
#define GRACE_KPACK_H

#include <stdbool.h>
#include <stddef.h>

struct kpack;

/* The dictionary's size limit: deflate's window here (8 KiB), so that all
 * of it stays within reach of a whole object. */
#define KPACK_DICT_MAX 8192

struct kpack *kpack_new(void);
struct kpack *kpack_ref(struct kpack *c);
void kpack_unref(struct kpack *c); /* NULL allowed */

/* Deflate text[0..len) into out, which holds len bytes. Returns the bytes
 * written, or 0 when zlib fails or the result would not be smaller (keep
 * the text as it is; deflate stops as soon as the output is full). The
 * first call's text becomes the dictionary. */
size_t kpack_compress(struct kpack *c, const char *text, size_t len, unsigned char *out);

/* How many texts kpack_compress was given so far (0 for NULL). */
unsigned long kpack_count(const struct kpack *c);

/* Strings the packed objects of a kind share, kept once by their codec:
 * kind with apiVersion, and label keys with their values. For the pair
 * (key, value): *key_out gets the codec's copy of key, *value_out its copy
 * of value when value is the first one the codec saw with that key (for a
 * label such as app.kubernetes.io/managed-by, the value all objects have),
 * else NULL. Room is bounded (KPACK_SHARED_MAX pairs of up to
 * KPACK_SHARED_LEN bytes): a key that does not fit gets NULL for both, and
 * the object keeps its own copies. The copies live as long as the codec,
 * which every kobj packed with it holds a reference to. */
#define KPACK_SHARED_MAX 64
#define KPACK_SHARED_LEN 320
void kpack_share(struct kpack *c, const char *key, const char *value, const char **key_out,
                 const char **value_out);

/* Inflate z[0..zlen) into out, which holds exactly len bytes (the text's
 * length). False when the data does not inflate to exactly len bytes. */
bool kpack_expand(const struct kpack *c, const unsigned char *z, size_t zlen, char *out,
                  size_t len);

#endif
