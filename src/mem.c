/*
 * mem: a simple arena that keeps a singly linked list of malloc'd blocks.
 * Requests make few allocations, so a list is cheap, and each block stays a
 * separate malloc so AddressSanitizer and valgrind see every overrun.
 */
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct block {
	struct block *next;
	void *ptr; /* for adopted pointers; NULL when the data follows */
	max_align_t data[];
};

struct arena {
	struct block *head;
};

struct arena *
mem_new(void)
{
	return calloc(1, sizeof(struct arena));
}

void
mem_free(struct arena *a)
{
	if (a == NULL)
		return;
	mem_reset(a);
	free(a);
}

void
mem_reset(struct arena *a)
{
	struct block *b, *next;

	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b->ptr);
		free(b);
	}
	a->head = NULL;
}

void *
mem_alloc(struct arena *a, size_t size)
{
	struct block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = calloc(1, sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->next = a->head;
	a->head = b;
	return b->data;
}

char *
mem_strndup(struct arena *a, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX)
		return NULL;
	p = mem_alloc(a, len + 1);
	if (p == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void *
mem_adopt(struct arena *a, void *p)
{
	struct block *b;

	if (p == NULL)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		free(p);
		return NULL;
	}
	b->ptr = p;
	b->next = a->head;
	a->head = b;
	return p;
}
