namespace Chat.IntegrationTests;

/// <summary>Bounded polling of an observable state: the tests' one way to wait for something that has no event.</summary>
public static class Poll
{
    /// <summary>Checks <paramref name="condition"/> every <paramref name="interval"/> (default 100 ms) until it holds; fails the test after <paramref name="bound"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan bound, string what, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + bound;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {bound.TotalSeconds:0} s waiting for {what}.");
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(100));
        }
    }

    /// <inheritdoc cref="UntilAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>
    public static Task UntilAsync(Func<bool> condition, TimeSpan bound, string what, TimeSpan? interval = null) =>
        UntilAsync(() => Task.FromResult(condition()), bound, what, interval);
}
