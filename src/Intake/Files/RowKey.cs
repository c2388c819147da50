using System.Buffers.Binary;

namespace Pipeline.Intake;

/// <summary>
/// A row's key among the occurrences counted in a file: the first 16 bytes of its SHA-256 (<see cref="RowChecker"/>), as
/// two 64-bit halves. Not a <see cref="UInt128"/>: that type is aligned to 16 bytes, so a dictionary entry of one took 48
/// bytes where this takes 32, and the occurrences are what an import's memory grows with (docs/import.md, "Memory").
/// </summary>
/// <param name="Low">Bytes 0 to 7, little-endian.</param>
/// <param name="High">Bytes 8 to 15, little-endian.</param>
public readonly record struct RowKey(ulong Low, ulong High)
{
    /// <summary>The key of a SHA-256 hash (its first 16 bytes).</summary>
    public static RowKey Of(ReadOnlySpan<byte> hash) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(hash), BinaryPrimitives.ReadUInt64LittleEndian(hash[8..]));

    /// <summary>Writes the 16 bytes <see cref="Of"/> read.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Low);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], High);
    }

    /// <summary>The hash's own bits: they are uniform already.</summary>
    public override int GetHashCode() => unchecked((int)Low);
}
