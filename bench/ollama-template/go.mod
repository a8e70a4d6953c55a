module reasonsharp/ollamatemplate

go 1.19
