/*
 * mem: the per-request arena. Every allocation a request makes comes from
 * here and is released in one call to mem_reset() when the request ends, so
 * handlers never free piecemeal and an early return cannot leak.
 */
#ifndef ORCHID_MEM_H
#define ORCHID_MEM_H

#include <stddef.h>

struct arena;

/* Returns a new empty arena, or NULL when out of memory; mem_free() frees it. */
struct arena *mem_new(void);
void mem_free(struct arena *a);

/* Releases everything allocated from a; the arena stays usable. */
void mem_reset(struct arena *a);

/* Returns size bytes (zeroed) owned by the arena, or NULL when out of memory. */
void *mem_alloc(struct arena *a, size_t size);

/* Copies len bytes and adds a NUL; NULL when out of memory. */
char *mem_strndup(struct arena *a, const char *s, size_t len);

/* Hands a malloc'd pointer to the arena, which frees it on reset. Returns p,
 * or NULL (after freeing p) when the arena cannot track it. */
void *mem_adopt(struct arena *a, void *p);

#endif
