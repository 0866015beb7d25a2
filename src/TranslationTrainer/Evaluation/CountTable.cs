using System.Runtime.CompilerServices;

namespace TranslationTrainer.Evaluation;

/// <summary>
/// An n-gram → count hash table (open addressing, linear probing). Dictionary would do, but its code for
/// our struct keys starts unoptimized in a short-lived CLI process; these methods are optimized at once.
/// </summary>
internal sealed class CountTable<TKey> where TKey : struct, IEquatable<TKey>
{
    private TKey[] _keys;
    private int[] _counts;
    private bool[] _filled;
    private int _mask;

    public CountTable(int capacity = 16)
    {
        int size = 16;
        while (size < capacity * 2) size <<= 1;  // load factor at most 1/2
        _keys = new TKey[size];
        _counts = new int[size];
        _filled = new bool[size];
        _mask = size - 1;
    }

    public int Count { get; private set; }

    /// <summary>The count of <paramref name="key"/>, 0 when absent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Get(TKey key)
    {
        for (int i = key.GetHashCode() & _mask; _filled[i]; i = (i + 1) & _mask)
            if (_keys[i].Equals(key)) return _counts[i];
        return 0;
    }

    /// <summary>A reference to the count of <paramref name="key"/>, added with count 0 when absent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ref int Slot(TKey key)
    {
        int i = key.GetHashCode() & _mask;
        for (; _filled[i]; i = (i + 1) & _mask)
            if (_keys[i].Equals(key)) return ref _counts[i];
        if (2 * (Count + 1) > _keys.Length)
        {
            Grow();
            return ref Slot(key);
        }
        _filled[i] = true;
        _keys[i] = key;
        _counts[i] = 0;
        Count++;
        return ref _counts[i];
    }

    public void Clear()
    {
        if (Count == 0) return;
        Array.Clear(_filled);
        Count = 0;
    }

    /// <summary>Every key with its count, in no particular order.</summary>
    public IEnumerable<(TKey Key, int Count)> Entries()
    {
        for (int i = 0; i < _keys.Length; i++)
            if (_filled[i]) yield return (_keys[i], _counts[i]);
    }

    private void Grow()
    {
        var (keys, counts, filled) = (_keys, _counts, _filled);
        _keys = new TKey[keys.Length * 2];
        _counts = new int[keys.Length * 2];
        _filled = new bool[keys.Length * 2];
        _mask = _keys.Length - 1;
        Count = 0;
        for (int i = 0; i < keys.Length; i++)
            if (filled[i]) Slot(keys[i]) = counts[i];
    }
}
