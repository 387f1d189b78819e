#ifndef ORCHID_INDEXER_H
#define ORCHID_INDEXER_H
#endif
