using System.Diagnostics.Metrics;

namespace Chat.Llm.Tests.Infrastructure;

/// <summary>An <see cref="IMeterFactory"/> for classes built by hand in a test; disposes the meters it made.</summary>
public sealed class MeterFactoryStub : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose() => _meters.ForEach(m => m.Dispose());
}
