namespace Pipeline.Bench.Cost;

/// <summary>A provisioned events table under a steady load: events a second, the write floor, the target utilisation, the read capacity.</summary>
internal sealed record SteadyCapacity(double Rate, double Floor, double Target, double Reads)
{
    /// <summary>WCU-hours a million events hold: the writes each event consumed, at the rate, over the target; never below the floor.</summary>
    public double WriteCapacityHours(double writeUnitsPerEvent) => Math.Max(Floor, Rate * writeUnitsPerEvent / Target) * Hours;

    /// <summary>RCU-hours a million events hold.</summary>
    public double ReadCapacityHours => Reads * Hours;

    // Hours a million events take at the rate.
    private double Hours => 1_000_000 / Rate / 3600;
}
