#ifndef ORCHID_INDEX_H
#define ORCHID_INDEX_H
#endif
