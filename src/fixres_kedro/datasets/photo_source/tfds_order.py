"""The order in which TensorFlow Datasets presents a split, without TensorFlow.

What tfds does with a split (tensorflow-datasets 4.9, the non-Beam
``GeneratorBasedBuilder`` path that tf_flowers takes, default ``DownloadConfig`` and
``ReadConfig``), and where this module follows it:

1. **Stored order** (``core/shuffle.py``, ``Shuffler``; ``core/hashing.py``): the
   examples are sorted by the md5 of the split name (the salt) followed by the example
   key. tf_flowers keys are ``<class>/<file>.jpg``. -> ``tfds_hash``, ``tfds_order``.

2. **Shards** (``core/writer.py``: ``Writer.finalize`` -> ``_get_shard_specs`` ->
   ``ShardConfig.get_number_shards`` and ``get_shard_boundaries`` in
   ``core/utils/shard_utils.py``): the sorted examples are cut into consecutive
   shards. With ``S`` the sum of the serialized examples' sizes (``Shuffler.size``,
   which tfds also records as the split's ``num_bytes``) and ``N`` the number of
   examples, ``ShardConfig.calculate_number_shards`` takes
   ``T = S + 16 * N`` (16 bytes of TFRecord framing per record),
   ``most = T // 64 MiB`` and ``fewest = T // 1 GiB`` and returns

   * 1024 if ``fewest <= 1024 <= most`` and ``N >= 1024``;
   * else, if ``fewest > 1024``, the smallest multiple ``n = 1024 * i`` (``i >= 2``)
     with ``n >= fewest`` and ``N >= n``;
   * else the first ``n`` of 512, 256, ..., 4, 2 with ``fewest <= n <= most`` and
     ``N >= n``; else 1.

   Below 1 GiB (``fewest = 0``) that is simply the largest power of two ``n`` with
   ``2 <= n <= T // 64 MiB`` and ``n <= N``, else 1: one shard below 128 MiB, 2 from
   128 MiB, 4 from 256 MiB, 8 from 512 MiB (three times 64 MiB still gives 2).
   ``calculate_number_shards`` is a classmethod reading the class defaults, so
   ``DownloadConfig(min_shard_size=..., max_shard_size=...)`` does not change it; only
   ``DownloadConfig(num_shards=...)`` would. Shard ``k`` (of ``n``) ends at example
   ``round(N * (k + 1) / n)`` (Python's ``round``: halves to even).
   -> ``number_of_shards``, ``shard_boundaries``.

   ``S`` needs the exact size of each serialized example. tf_flowers' features are
   ``FeaturesDict({"image": Image(), "label": ClassLabel(5 names)})``, serialized by
   ``core/example_serializer.py`` as a ``tf.train.Example`` with exactly two
   features: ``"image"``, a ``bytes_list`` holding the photo file's bytes unchanged
   (``Image.encode_example`` reads the file object, it does not re-encode), and
   ``"label"``, an ``int64_list`` holding the class index. -> ``tf_flowers_example_size``
   (protobuf's wire format, byte for byte). For the real ``flower_photos.tgz``:
   ``S = 232,609,257`` bytes (equal to tfds' ``num_bytes``), ``T = 232,667,977``, so 2
   shards of 1835 examples; 3 * 64 MiB <= ``T`` < 4 * 64 MiB, and the 2-shard range
   is [128 MiB, 256 MiB), which leaves about 94 MiB below and 34 MiB above.

3. **Slice -> file instructions** (``core/splits.py``: ``_rel_to_abs_instr``,
   ``_file_instructions_for_split``; ``shard_utils.get_file_instructions``): a percent
   bound becomes ``round(percent * N / 100)`` (``slice_bounds``); the example range
   ``[start, stop)`` becomes one ``(shard, skip, take)`` per shard that it overlaps, in
   shard order: ``skip`` examples of the shard are passed over, the next ``take`` read.
   -> ``file_instructions``.

4. **Reading** (``core/dataset_builder.py``: ``as_dataset`` -> ``FileReaderBuilder.
   _as_dataset`` -> ``core/reader.py``: ``Reader.read`` -> ``_read_files``): the file
   instructions, in order and not shuffled (``shuffle_files=False``), go through
   ``tf.data.Dataset.interleave`` with ``ReadConfig``'s defaults:
   ``interleave_cycle_length`` 16 (``_get_default_interleave_cycle_length``: 16 unless
   the dataset has ``disable_shuffling``, which tf_flowers has not) and
   ``interleave_block_length`` 16, deterministically (``deterministic=True`` unless files
   are shuffled without a seed). tf.data's interleave keeps ``cycle_length`` slots; it
   visits them in turn and takes up to ``block_length`` consecutive examples from the
   instruction open in a slot. An instruction is found done only by reading past its
   end (in the middle of a block, or on the next visit when its last example ended a
   block): then its slot is freed and the visit moves on to the next slot, starting a
   new block; a free slot opens the next instruction when the visit reaches it; slots
   with nothing left to open are passed over. The parsing ``map``, the auto ``cache`` and the
   ``prefetch`` that follow keep the order. -> ``interleave_order``, ``read_order``.

For tf_flowers (3670 photos, 2 shards of 1835): ``train[:90%]`` is shard 0 whole and the
first 1468 examples of shard 1, read as 16 from shard 0, 16 from shard 1, ...; in the
92nd round shard 1 has only 12 left, then the rest of shard 0 follows alone. ``train[90%:]`` lies
in shard 1 alone, so it is read in stored order.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_SLICE = re.compile(r"^(?P<split>\w+)\[(?P<start>-?\d+%?)?:(?P<stop>-?\d+%?)?\]$|^(?P<whole>\w+)$")

# shard_utils.ShardConfig's class defaults (DEFAULT_MIN_SHARD_SIZE, DEFAULT_MAX_SHARD_SIZE,
# overhead): calculate_number_shards reads these, whatever the DownloadConfig says.
MIN_SHARD_BYTES = 64 << 20
MAX_SHARD_BYTES = 1024 << 20
RECORD_OVERHEAD_BYTES = 16  # TFRecord framing: length (8), its CRC (4), the data's CRC (4)
# read_config.ReadConfig's defaults, as reader._read_files resolves them for a dataset
# without disable_shuffling.
INTERLEAVE_CYCLE_LENGTH = 16
INTERLEAVE_BLOCK_LENGTH = 16
# calculate_number_shards' candidates below 1024 shards, tried largest first.
_SHARD_COUNTS = (512, 256, 128, 64, 32, 16, 8, 4, 2)
_MANY_SHARDS = 1024


def tfds_hash(key: str, salt: str = "train") -> int:
    """tfds' 128-bit ordering hash of ``key`` within split ``salt``."""
    digest = hashlib.md5(salt.encode("utf-8"))
    digest.update(key.replace("\\", "/").encode("utf-8"))
    return int(digest.hexdigest(), 16)


def tfds_order(keys: Iterable[str], salt: str = "train") -> list[int]:
    """Positions of ``keys`` sorted as tfds stores them (indices into ``keys``)."""
    keys = list(keys)
    return sorted(range(len(keys)), key=lambda i: tfds_hash(keys[i], salt))


def _bound(text: str | None, count: int, default: int) -> int:
    if text is None:
        return default
    if text.endswith("%"):
        value = int(round(float(text[:-1]) * count / 100.0))
    else:
        value = int(text)
    if value < 0:
        value += count
    return min(max(value, 0), count)


def slice_bounds(spec: str, count: int) -> tuple[str, int, int]:
    """Parse a tfds split slice (``train[:90%]``, ``train[90%:]``, ``train[10:20]``).

    Returns the split name and the ``[start, stop)`` example range within ``count``.
    """
    match = _SLICE.match(spec.replace(" ", ""))
    if not match:
        raise ValueError(f"not a tfds split slice: {spec!r} (try 'train[:90%]')")
    if match["whole"]:
        return match["whole"], 0, count
    start = _bound(match["start"], count, 0)
    stop = _bound(match["stop"], count, count)
    return match["split"], start, max(start, stop)


# --- 2. shards ---------------------------------------------------------------------


def _varint_size(value: int) -> int:
    """Bytes of ``value`` as a protobuf varint (non-negative values)."""
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def _field_size(payload: int) -> int:
    """Bytes of a length-delimited protobuf field (one-byte tag) with a ``payload``."""
    return 1 + _varint_size(payload) + payload


def _feature_entry_size(name: str, feature: int) -> int:
    """Bytes of one ``Features.feature`` map entry, as a field of ``Features``.

    The entry is a message of ``key`` (field 1, the name) and ``value`` (field 2, the
    ``Feature`` message of ``feature`` bytes).
    """
    entry = _field_size(len(name.encode("utf-8"))) + _field_size(feature)
    return _field_size(entry)


def tf_flowers_example_size(image_bytes: int, label: int) -> int:
    """Bytes of the serialized ``tf.train.Example`` that tfds writes for one tf_flowers photo.

    ``image_bytes``: the length of the photo file (stored unchanged); ``label``: its
    class index (``ClassLabel``, 0-4 for tf_flowers; any non-negative index). This is
    ``len(ExampleSerializer.serialize_example(...))`` of tfds' ``core/example_serializer``:
    ``Example{features: Features{feature: {"image": Feature{bytes_list: BytesList{value:
    [image]}}, "label": Feature{int64_list: Int64List{value: [label]}}}}}``, the int64
    list packed. For a photo of 16 KiB up to just under 2 MiB it is ``image_bytes + 43``.
    """
    if image_bytes < 0 or label < 0:
        raise ValueError(f"sizes and labels are not negative, got {image_bytes}, {label}")
    bytes_list = _field_size(image_bytes)  # BytesList.value (field 1)
    image = _feature_entry_size("image", _field_size(bytes_list))  # Feature.bytes_list (1)
    int64_list = _field_size(_varint_size(label))  # Int64List.value (field 1), packed
    label_entry = _feature_entry_size("label", _field_size(int64_list))  # Feature.int64_list (3)
    return _field_size(image + label_entry)  # Example.features (field 1)


def number_of_shards(num_examples: int, serialized_bytes: int) -> int:
    """How many shards tfds writes a split of ``num_examples`` examples as.

    ``serialized_bytes``: the sum of the serialized examples' sizes, without TFRecord
    framing (what tfds records as the split's ``num_bytes``; for tf_flowers the sum of
    ``tf_flowers_example_size``). Follows ``ShardConfig.calculate_number_shards`` with
    precise sharding (tfds' non-Beam ``Writer``) and the default shard sizes.
    """
    total = serialized_bytes + num_examples * RECORD_OVERHEAD_BYTES
    most = total // MIN_SHARD_BYTES
    fewest = total // MAX_SHARD_BYTES
    if fewest <= _MANY_SHARDS <= most and num_examples >= _MANY_SHARDS:
        return _MANY_SHARDS
    if fewest > _MANY_SHARDS:
        # Multiples of 1024 from 2048; tfds loops forever when none has few enough
        # examples (more than 512 GiB per example), this refuses instead.
        multiple = max(2, -(-fewest // _MANY_SHARDS))
        count = _MANY_SHARDS * multiple
        if count > num_examples:
            raise ValueError(
                f"tfds cannot shard {num_examples} examples of {serialized_bytes} bytes"
            )
        return count
    for count in _SHARD_COUNTS:
        if fewest <= count <= most and num_examples >= count:
            return count
    return 1


def shard_boundaries(num_examples: int, num_shards: int) -> list[int]:
    """Where each shard ends: shard ``k`` holds stored examples ``[ends[k-1], ends[k])``.

    ``shard_utils.get_shard_boundaries``: ``round(num_examples * (k + 1) / num_shards)``
    for ``k`` in ``range(num_shards)``, so the last is ``num_examples``.
    """
    if num_examples < 1:
        raise ValueError("tfds writes no split without examples")
    if not 1 <= num_shards <= num_examples:
        raise ValueError(f"{num_shards} shards for {num_examples} examples")
    return [round(num_examples * shard / num_shards) for shard in range(1, num_shards + 1)]


# --- 3. slice -> file instructions ------------------------------------------------


@dataclass(frozen=True)
class FileInstruction:
    """Read ``take`` examples of shard ``shard`` after passing over its first ``skip``."""

    shard: int
    skip: int
    take: int


def file_instructions(start: int, stop: int, shard_lengths: Sequence[int]) -> list[FileInstruction]:
    """The per-shard reads of the stored examples ``[start, stop)``, in shard order.

    ``shard_utils.get_file_instructions``: one instruction per shard that the range
    overlaps; empty shards and empty overlaps give none.
    """
    instructions = []
    shard_start = 0
    for shard, length in enumerate(shard_lengths):
        shard_stop = shard_start + length
        first, last = max(start, shard_start), min(stop, shard_stop)
        if first < last:
            instructions.append(FileInstruction(shard, first - shard_start, last - first))
        shard_start = shard_stop
    return instructions


# --- 4. reading -------------------------------------------------------------------


def interleave_order(
    lengths: Sequence[int],
    cycle_length: int = INTERLEAVE_CYCLE_LENGTH,
    block_length: int = INTERLEAVE_BLOCK_LENGTH,
) -> list[tuple[int, int]]:
    """``(input, element)`` pairs in the order a deterministic ``tf.data`` interleave yields.

    Input ``i`` is a dataset of ``lengths[i]`` elements. This is TensorFlow's
    ``InterleaveDatasetOp`` iterator step by step (``GetNextInternal``: a slot's
    iterator that reports its end is dropped and the cycle moves on; an empty slot
    opens the next input when the cycle reaches it; ``AdvancePosition`` moves on after
    ``block_length`` elements); the parallel version that tfds runs yields the same
    order when ``deterministic``.
    """
    if cycle_length < 1 or block_length < 1:
        raise ValueError(f"cycle_length and block_length must be positive, got {cycle_length}, {block_length}")
    # slots[i]: [input, elements it has given] of the input open in slot i, or None.
    slots: list[list[int] | None] = [None] * cycle_length
    next_input = 0
    open_slots = 0
    slot = 0
    in_block = 0
    order: list[tuple[int, int]] = []

    def next_slot() -> None:
        nonlocal slot, in_block
        slot = (slot + 1) % cycle_length
        in_block = 0

    while next_input < len(lengths) or open_slots:
        current = slots[slot]
        if current is None:
            if next_input < len(lengths):
                # The slot opens the next input and reads from it in this same visit.
                slots[slot] = [next_input, 0]
                next_input += 1
                open_slots += 1
            else:
                next_slot()
        elif current[1] < lengths[current[0]]:
            order.append((current[0], current[1]))
            current[1] += 1
            in_block += 1
            if in_block == block_length:
                next_slot()
        else:
            # Only a read past the end shows an input is done: the rest of this block
            # goes to the next slot (even when the input ended exactly at a block's end).
            slots[slot] = None
            open_slots -= 1
            next_slot()
    return order


def read_order(
    example_sizes: Sequence[int],
    spec: str,
    *,
    cycle_length: int = INTERLEAVE_CYCLE_LENGTH,
    block_length: int = INTERLEAVE_BLOCK_LENGTH,
) -> list[int]:
    """Positions of a tfds slice's examples, in the order ``as_dataset`` yields them.

    ``example_sizes``: the serialized size of every example of the split, in tfds'
    stored order (``tfds_order``), e.g. ``tf_flowers_example_size(len(image), label)``
    per photo; only their number and sum matter (they decide the shards). ``spec``: a
    slice of that split (``train[:90%]``, ``train[90%:]``, ``train``, ``train[10:20]``;
    see ``slice_bounds``; the split name is not checked). Returns indices into the
    stored order: ``stored[i] for i in read_order(...)`` is what
    ``builder.as_dataset(split=spec, shuffle_files=False)`` gives with the default
    ``ReadConfig``. An empty slice gives ``[]`` (tfds refuses to read one).
    """
    count = len(example_sizes)
    _, start, stop = slice_bounds(spec, count)
    if start == stop:
        return []
    shards = number_of_shards(count, int(sum(int(size) for size in example_sizes)))
    ends = shard_boundaries(count, shards)
    starts = [0, *ends[:-1]]
    lengths = [end - begin for begin, end in zip(starts, ends)]
    instructions = file_instructions(start, stop, lengths)
    return [
        starts[instructions[which].shard] + instructions[which].skip + element
        for which, element in interleave_order(
            [instruction.take for instruction in instructions], cycle_length, block_length
        )
    ]
